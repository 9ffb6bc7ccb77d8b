"""GET /v1/jobs/{id}/report and report.html on a finished job."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.db import jobs as jobs_repo
from service.db.models import JobRow
from service.db.session import session_scope
from service.settings import Settings
from workers.engine.spec import (
    Budget,
    Confirmation,
    Family,
    JobSpec,
    MetricRef,
    Parallelism,
    Task,
)
from workers.jobs import run_shard


@pytest.fixture
def finished_job(settings: Settings) -> str:
    """A small real search on breast_cancer, run to the end by the worker code."""
    spec = JobSpec(
        dataset="builtin:breast_cancer",
        task=Task.BINARY,
        metric=MetricRef(name="f1"),
        budget=Budget(n_trials=6),
        families=[Family.PROXY, Family.WEIGHTED],
        parallelism=Parallelism(population_size=3),
        confirmation=Confirmation(top_k=2, seeds=2, seeds_per_fold=2),
    )
    with session_scope(settings.resolved_database_url) as session:
        row, _ = jobs_repo.create_job(session=session, spec=spec)
        job_id = row.id
    run_shard(job_id, 0, settings)
    return job_id


def test_the_json_report_holds_the_answer_and_how_sure_we_are(
    client: TestClient, finished_job: str
) -> None:
    response = client.get(f"/v1/jobs/{finished_job}/report")
    assert response.status_code == 200
    report: dict[str, Any] = response.json()
    assert report["final"] is True
    assert report["summary"] == report["comparison"]["summary"]
    assert report["winner"]["code"].rstrip().endswith(")")
    assert report["winner"]["threshold"]["logit"] is not None  # f1 depends on a threshold
    assert report["baseline"]["loss"] == "cross_entropy"
    assert len(report["comparison"]["test_lift_interval"]) == 2
    assert 0.0 <= report["comparison"]["probability_better"] <= 1.0
    assert report["confirmation"]["seeds"] == 2
    trials = report["trials"]
    assert sum(trials["by_state"].values()) == 6
    assert set(trials["by_family"]) <= {"proxy", "weighted"}
    assert set(trials["best_per_family"]) <= {"proxy", "weighted"}
    assert [h["number"] for h in trials["history"]] == list(range(6))
    assert report["dataset"]["rows"] == 569
    assert report["search"]["spec"]["budget"] == {"n_trials": 6, "timeout_s": None}
    for package in ("torch", "optuna", "scikit-learn", "python"):
        assert report["environment"][package] != "unknown"


def test_the_html_report_has_the_summary_the_figures_and_the_code(
    client: TestClient, finished_job: str
) -> None:
    response = client.get(f"/v1/jobs/{finished_job}/report.html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    summary = client.get(f"/v1/jobs/{finished_job}/report").json()["summary"]
    assert summary.split(":")[0].replace("'", "&#39;") in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 3  # lift, history, families (parameters when any were searched)
    assert all(len(data) > 1000 for data in images)
    assert 'id="figure-lift"' in page
    assert "loss_fn = make_loss(" in page


def test_the_html_report_shows_the_guardrails_and_how_the_gate_decided(
    client: TestClient, finished_job: str, settings: Settings
) -> None:
    # This small job keeps its baseline, which has no guardrails (nothing to compare); give its
    # stored result the rows a returned winner would carry, one of them reliably worse.
    rows = [
        {"metric": "roc_auc", "direction": "maximize", "winner": 0.97, "baseline": 0.98,
         "lift": -0.01, "lift_interval": [-0.02, -0.004], "significantly_worse": True},
        {"metric": "log_loss", "direction": "minimize", "winner": 0.21, "baseline": 0.22,
         "lift": 0.01, "lift_interval": [-0.01, 0.03], "significantly_worse": False},
    ]  # fmt: skip
    with session_scope(settings.resolved_database_url) as session:
        row = session.get(JobRow, finished_job)
        assert row is not None
        assert row.result is not None
        result = dict(row.result)
        result["comparison"] = {**result["comparison"], "guardrails": rows}
        row.result = result
    page = client.get(f"/v1/jobs/{finished_job}/report.html").text
    table = page.split('id="guardrails"')[1].split("</table>")[0]
    assert "<td>roc_auc <span" in table
    assert "<td>log_loss <span" in table
    assert table.count('class="worse"') == 1
    assert "reliably worse" in table
    gate = client.get(f"/v1/jobs/{finished_job}/report").json()["comparison"]["gate"]
    if gate is not None:  # the leader was not the baseline: the gate ran and says how
        assert f"{gate['folds']} folds of the {gate['rows']} non-test rows" in page


def test_no_report_before_a_trial_has_completed(client: TestClient) -> None:
    job = client.post("/v1/jobs", json={"dataset": "builtin:breast_cancer", "metric": "f1"}).json()
    for path in ("report", "report.html"):
        response = client.get(f"/v1/jobs/{job['id']}/{path}")
        assert response.status_code == 409
        assert response.json()["error"]["type"] == "no_result_yet"
    assert client.get("/v1/jobs/nope/report").status_code == 404


def test_best_and_the_report_show_the_temperature_of_a_log_loss_job(
    client: TestClient, settings: Settings
) -> None:
    spec = JobSpec(
        dataset="builtin:breast_cancer",
        task=Task.BINARY,
        metric=MetricRef(name="log_loss"),
        budget=Budget(n_trials=3),
        families=[Family.PROXY],
        parallelism=Parallelism(population_size=3),
        confirmation=Confirmation(top_k=1, seeds=2, seeds_per_fold=2),
    )
    with session_scope(settings.resolved_database_url) as session:
        row, _ = jobs_repo.create_job(session=session, spec=spec)
        job_id = row.id
    run_shard(job_id, 0, settings)

    best = client.get(f"/v1/jobs/{job_id}/best").json()
    assert best["final"] is True
    for setup in (best["best"], best["baseline"]):
        assert setup["threshold"] is None  # log loss scores probabilities: no decision
        assert 0.01 <= setup["temperature"] <= 100
    page = client.get(f"/v1/jobs/{job_id}/report.html").text
    assert "temperature" in page
    trials = client.get(f"/v1/jobs/{job_id}/trials").json()["items"]
    complete = [t for t in trials if t["state"] == "complete"]
    assert complete
    for trial in complete:  # each trial's own temperature, as it was scored on validation
        assert 0.01 <= trial["temperature"] <= 100
    assert all(t["temperature"] is None for t in trials if t["state"] == "failed")
