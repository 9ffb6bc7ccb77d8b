"""The whole flow, HTTP → broker → a real worker process → database → HTTP, on each backend.

Each test talks to the service only through its public API, like a client would.
"""

from __future__ import annotations

import pytest

from tests.integration.harness import Service, job_in, wait_for

pytestmark = pytest.mark.integration

BREAST_CANCER_F1 = {
    "dataset": "builtin:breast_cancer",
    "metric": "f1",
    "budget": {"n_trials": 8},
    "seed": 3,
}


def test_a_job_completes_and_returns_its_trials_and_best_setup(service: Service) -> None:
    with service.client() as client:
        created = client.post("/v1/jobs", json=BREAST_CANCER_F1)
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        assert created.headers["location"] == f"/v1/jobs/{job_id}"

        job = wait_for(lambda: job_in(client, job_id, "succeeded", "failed"), 180, "the job to end")
        assert job["status"] == "succeeded", job["error"]
        assert job["progress"]["planned"] == 8
        assert job["progress"]["finished"] == 8
        assert job["progress"]["fraction"] == 1.0
        assert job["best"] is not None
        assert job["started_at"] <= job["finished_at"]

        trials = client.get(f"/v1/jobs/{job_id}/trials").json()
        assert trials["total"] == 8
        first = trials["items"][0]
        assert first["number"] == 0
        assert first["arm"] == "baseline"
        assert first["loss"] == "cross_entropy"
        for trial in trials["items"]:
            assert trial["state"] in ("complete", "pruned", "failed")
            assert trial["family"] in ("proxy", "weighted", "surrogate")
            assert trial["training"]["learning_rate"] > 0
            assert trial["duration_s"] is not None
            assert trial["duration_s"] > 0
            if trial["state"] == "complete":
                assert 0.0 <= trial["value"] <= 1.0
                assert trial["threshold"] is not None  # f1 depends on a tuned threshold
        by_value = client.get(f"/v1/jobs/{job_id}/trials", params={"sort": "value"}).json()
        values = [t["value"] for t in by_value["items"] if t["value"] is not None]
        assert values == sorted(values, reverse=True)

        best = client.get(f"/v1/jobs/{job_id}/best").json()
        assert best["final"] is True
        assert best["metric"]["name"] == "f1"
        for setup in (best["best"], best["baseline"]):
            assert setup["validation"] is not None
            # Confirmed on fresh seeds: the reported figures are the means over those seeds.
            assert len(setup["validation_seeds"]) >= 2
            assert setup["validation"] == pytest.approx(
                sum(setup["validation_seeds"]) / len(setup["validation_seeds"])
            )
            assert 0.0 <= setup["test"] <= 1.0
            low, high = setup["test_interval"]
            assert low <= setup["test"] <= high
            assert setup["threshold"]["logit"] is not None
            assert setup["training"]["epochs"] >= 1
        assert best["baseline"]["loss"] == "cross_entropy"
        assert best["comparison"]["test_lift"] is not None
        assert best["comparison"]["summary"]
        assert best["dataset"]["rows"] == 569


def test_cancel_stops_a_running_job_and_keeps_its_trials(service: Service) -> None:
    with service.client() as client:
        body = {**BREAST_CANCER_F1, "budget": {"n_trials": 500}}
        job_id = client.post("/v1/jobs", json=body).json()["id"]
        wait_for(
            lambda: (job := job_in(client, job_id, "running")) and job["progress"]["complete"] >= 1,
            120,
            "a trial of the long job to complete",
        )
        cancel = client.post(f"/v1/jobs/{job_id}/cancel")
        assert cancel.status_code == 202

        job = wait_for(
            lambda: job_in(client, job_id, "cancelled", "succeeded", "failed"), 120, "the cancel"
        )
        assert job["status"] == "cancelled"
        assert 1 <= job["progress"]["finished"] < 500
        assert client.get(f"/v1/jobs/{job_id}/trials").json()["total"] >= 1
        best = client.get(f"/v1/jobs/{job_id}/best").json()
        assert best["final"] is False  # kept trials still give a provisional best
        assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 409


def test_a_job_whose_trials_all_fail_ends_failed_with_the_reason(service: Service) -> None:
    with service.client() as client:
        body = {
            "dataset": "constant_features.csv",
            "target": "label",
            "metric": "f1",
            "budget": {"n_trials": 4},
        }
        job_id = client.post("/v1/jobs", json=body).json()["id"]
        job = wait_for(lambda: job_in(client, job_id, "succeeded", "failed"), 120, "the job to end")
        assert job["status"] == "failed"
        assert job["error"].startswith("all 4 trials failed or were pruned")
        assert "collapsed" in job["error"]
        trials = client.get(f"/v1/jobs/{job_id}/trials").json()["items"]
        assert len(trials) == 4
        assert all(t["state"] == "failed" and "collapsed" in t["failure_reason"] for t in trials)
        best = client.get(f"/v1/jobs/{job_id}/best")
        assert best.status_code == 409
        assert "collapsed" in best.json()["error"]["message"]


def test_a_job_survives_the_death_of_its_worker(service: Service) -> None:
    with service.client() as client:
        body = {**BREAST_CANCER_F1, "budget": {"n_trials": 14}, "seed": 11}
        job_id = client.post("/v1/jobs", json=body).json()["id"]
        wait_for(
            lambda: (job := job_in(client, job_id, "running")) and job["progress"]["finished"] >= 3,
            120,
            "three trials before the worker is killed",
        )
        service.kill_worker("worker-1")
        service.start_worker("worker-2")

        job = wait_for(
            lambda: job_in(client, job_id, "succeeded", "failed"),
            240,
            "the job to finish on the new worker",
        )
        assert job["status"] == "succeeded", job["error"]
        assert job["attempts"] >= 2
        assert job["progress"]["finished"] == 14  # the budget holds: lost trials are not counted

        trials = client.get(f"/v1/jobs/{job_id}/trials", params={"limit": 500}).json()["items"]
        lost = [t for t in trials if t["state"] == "lost"]
        for trial in lost:
            assert "worker running this trial was lost" in trial["failure_reason"]
        assert job["progress"]["lost"] == len(lost)
        assert len(trials) == 14 + len(lost)
        assert not [t for t in trials if t["state"] in ("running", "waiting")]
        assert client.get(f"/v1/jobs/{job_id}/best").json()["final"] is True


@pytest.mark.parametrize(
    ("body", "task"),
    [
        ({"dataset": "yeast4.csv.gz", "metric": "pr_auc"}, "binary"),
        ({"dataset": "page_blocks.csv.gz", "metric": "macro_f1"}, "multiclass"),
        (
            {"dataset": "solar_flare.csv.gz", "target": "label_*", "metric": "micro_f1"},
            "multilabel",
        ),
        ({"dataset": "concrete.csv.gz", "metric": "mape"}, "regression"),
    ],
    ids=["binary", "multiclass", "multilabel", "regression"],
)
def test_every_task_runs_end_to_end_on_real_data(
    service: Service, body: dict[str, object], task: str
) -> None:
    with service.client() as client:
        created = client.post("/v1/jobs", json={**body, "budget": {"n_trials": 3}, "seed": 5})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        assert created.json()["spec"]["task"] == task
        job = wait_for(lambda: job_in(client, job_id, "succeeded", "failed"), 240, "the job")
        assert job["status"] == "succeeded", job["error"]
        best = client.get(f"/v1/jobs/{job_id}/best").json()
        for setup in (best["best"], best["baseline"]):
            assert setup["test"] is not None
            assert "loss_fn = make_loss(" in setup["code"]
        if task == "multilabel":
            assert len(best["best"]["threshold"]["logit"]) == 3  # one per label


def test_a_job_split_over_two_workers_runs_each_trial_once(service: Service) -> None:
    service.start_worker("worker-extra")
    service.wait_worker_ready("worker-extra")
    with service.client() as client:
        body = {
            **BREAST_CANCER_F1,
            "budget": {"n_trials": 12},
            "parallelism": {"shards": 2, "population_size": 2},
        }
        job_id = client.post("/v1/jobs", json=body).json()["id"]
        job = wait_for(lambda: job_in(client, job_id, "succeeded", "failed"), 240, "the job")
        assert job["status"] == "succeeded", job["error"]
        assert [s["status"] for s in job["shards"]] == ["done", "done"]
        assert len({s["worker"] for s in job["shards"]}) == 2  # two processes shared the work
        trials = client.get(f"/v1/jobs/{job_id}/trials", params={"limit": 500}).json()["items"]
        assert len(trials) == 12
        assert sorted(t["number"] for t in trials) == list(range(12))
        assert client.get(f"/v1/jobs/{job_id}/best").json()["final"] is True
