"""The jobs API without a worker: what a client sees before and around the search."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from service.db import jobs as jobs_repo
from service.db import shards
from service.db.models import JobStatus
from service.db.session import session_scope
from service.settings import Settings

JOB = {"dataset": "builtin:breast_cancer", "metric": "f1", "budget": {"n_trials": 3}}


def submit(client: TestClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/v1/jobs", json=body or JOB)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/jobs/{response.json()['id']}"
    payload: dict[str, Any] = response.json()
    return payload


def test_a_submitted_job_is_queued_with_its_resolved_spec(client: TestClient) -> None:
    job = submit(client)
    assert job["status"] == "queued"
    assert job["spec"]["task"] == "binary"  # inferred from the target
    assert job["spec"]["metric"] == {"name": "f1", "params": {}}
    assert job["direction"] == "maximize"
    assert job["spec"]["families"] == ["proxy", "weighted", "surrogate"]
    assert job["spec"]["parallelism"] == {"population_size": None, "shards": 1}  # the default
    assert job["progress"] == {
        "planned": 3,
        "finished": 0,
        "complete": 0,
        "pruned": 0,
        "failed": 0,
        "running": 0,
        "waiting": 0,
        "lost": 0,
        "fraction": 0.0,
        "updated_at": None,
    }
    assert client.get(f"/v1/jobs/{job['id']}").json()["id"] == job["id"]
    for name, path in job["links"].items():
        assert path.startswith(f"/v1/jobs/{job['id']}"), name
    assert set(job["links"]) == {
        "self",
        "trials",
        "best",
        "report",
        "report_html",
        "cancel",
        "deliveries",
    }


def test_metric_parameters_get_their_defaults(client: TestClient) -> None:
    job = submit(client, {"dataset": "builtin:breast_cancer", "metric": "recall_at_precision"})
    assert job["spec"]["metric"]["params"] == {"min_precision": 0.9, "confidence": 0.9}


def test_csv_and_parquet_files_under_a_root_are_accepted(client: TestClient) -> None:
    for dataset in ("small.csv", "small.parquet"):
        job = submit(client, {"dataset": dataset, "target": "label", "metric": "roc_auc"})
        assert job["spec"]["task"] == "binary"


def test_jobs_list_is_paginated_and_filtered_by_status(
    client: TestClient, settings: Settings
) -> None:
    ids = [submit(client)["id"] for _ in range(3)]
    page = client.get("/v1/jobs", params={"limit": 2}).json()
    assert page["total"] == 3
    assert [job["id"] for job in page["items"]] == ids[::-1][:2]  # newest first
    assert len(client.get("/v1/jobs", params={"limit": 2, "offset": 2}).json()["items"]) == 1

    client.post(f"/v1/jobs/{ids[0]}/cancel")
    cancelled = client.get("/v1/jobs", params={"status": "cancelled"}).json()
    assert [job["id"] for job in cancelled["items"]] == [ids[0]]
    assert client.get("/v1/jobs", params={"status": "queued"}).json()["total"] == 2
    assert client.get("/v1/jobs", params={"status": "lost"}).status_code == 422


def test_unknown_job_is_404_everywhere(client: TestClient) -> None:
    for path in ("", "/trials", "/best"):
        response = client.get(f"/v1/jobs/nope{path}")
        assert response.status_code == 404
        assert response.json()["error"] == {
            "type": "not_found",
            "message": "no job with id 'nope'",
            "details": [],
        }
    assert client.post("/v1/jobs/nope/cancel").status_code == 404


def test_unknown_route_uses_the_shared_error_shape(client: TestClient) -> None:
    response = client.get("/v2/anything")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


def test_best_is_409_until_a_trial_completes(client: TestClient) -> None:
    job = submit(client)
    response = client.get(f"/v1/jobs/{job['id']}/best")
    assert response.status_code == 409
    assert "no trial has completed yet" in response.json()["error"]["message"]
    assert client.get(f"/v1/jobs/{job['id']}/trials").json() == {
        "items": [],
        "total": 0,
        "limit": 100,
        "offset": 0,
    }


def test_cancelling_a_queued_job_is_immediate_and_final(client: TestClient) -> None:
    job = submit(client)
    response = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    assert response.json()["finished_at"] is not None
    again = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["type"] == "already_finished"


def test_cancelling_a_running_job_asks_its_worker_to_stop(
    client: TestClient, settings: Settings
) -> None:
    job = submit(client)
    with session_scope(settings.resolved_database_url) as session:
        assert shards.claim_shard(
            session=session, job_id=job["id"], shard=0, worker="w", stale_after_s=30
        )
    response = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "running"  # it stops at the next trial boundary
    with session_scope(settings.resolved_database_url) as session:
        lease = shards.touch_shard(session=session, job_id=job["id"], shard=0, worker="w")
    assert lease.cancel_requested


def test_a_job_accepted_while_the_broker_is_down_stays_queued_for_the_sweeper(
    settings: Settings,
) -> None:
    from service.main import create_app

    unreachable = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(unreachable)) as client:
        response = client.post("/v1/jobs", json=JOB)
        assert response.status_code == 202  # committed: the job is accepted, not lost
        job = client.get(f"/v1/jobs/{response.json()['id']}").json()
    assert job["status"] == JobStatus.QUEUED.value
    with session_scope(settings.resolved_database_url) as session:
        shards = jobs_repo.get_shards(session=session, job_id=job["id"])
    # Never sent: the sweeper sends it once the broker is back (tests/workers/test_sweeper.py).
    assert [(s.status, s.sent_at, s.sends) for s in shards] == [("queued", None, 0)]


def test_a_multilabel_job_expands_its_target_pattern(client: TestClient, data_root: Any) -> None:
    rows = [f"{i},{i % 2},{(i // 2) % 2}" for i in range(60)]
    (data_root / "labels.csv").write_text("x,l_a,l_b\n" + "\n".join(rows) + "\n")
    job = submit(client, {"dataset": "labels.csv", "target": "l_*", "metric": "micro_f1"})
    assert job["spec"]["task"] == "multilabel"
    assert job["spec"]["target"] == ["l_a", "l_b"]


def test_losses_and_parameter_overrides_are_kept_in_the_spec(client: TestClient) -> None:
    body = {
        **JOB,
        "losses": ["focal", "cross_entropy"],
        "params": {"focal": {"gamma": [0.5, 3.0], "alpha": 0.25}},
    }
    job = submit(client, body)
    assert job["spec"]["losses"] == ["focal", "cross_entropy"]
    assert job["spec"]["params"] == {"focal": {"gamma": [0.5, 3.0], "alpha": 0.25}}


def test_tags_are_kept_with_the_job(client: TestClient) -> None:
    tags = {"pipeline": "churn-weekly", "run": "2026-12-05"}
    job = submit(client, {**JOB, "tags": tags})
    assert job["spec"]["tags"] == tags
    assert client.get(f"/v1/jobs/{job['id']}").json()["spec"]["tags"] == tags
    listed = client.get("/v1/jobs").json()["items"]
    assert [j["spec"]["tags"] for j in listed if j["id"] == job["id"]] == [tags]


def test_more_than_twenty_tags_are_refused(client: TestClient) -> None:
    response = client.post("/v1/jobs", json={**JOB, "tags": {f"t{i}": "x" for i in range(21)}})
    assert response.status_code == 422
    assert "tags" in response.json()["error"]["message"]


def test_a_job_can_target_the_calibration_error_with_its_bins(client: TestClient) -> None:
    job = submit(client, {**JOB, "metric": {"name": "ece", "params": {"bins": 10}}})
    assert job["spec"]["metric"] == {"name": "ece", "params": {"bins": 10}}
    assert job["direction"] == "minimize"
    served = {x["name"] for x in client.get("/v1/losses", params={"metric": "ece"}).json()}
    assert {"cross_entropy", "brier", "focal"} <= served
    assert not {"hinge", "mse_onehot", "generalized_ce"} & served  # not calibrated
    multiclass = {"dataset": "builtin:wine", "metric": "ece"}
    assert client.post("/v1/jobs", json=multiclass).status_code == 202
