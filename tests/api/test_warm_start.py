"""POST /v1/jobs with ``warm_start``: the jobs named must be the caller's own succeeded jobs of
the same task; anything else is a 422 naming the job, and nothing is created.

The earlier jobs are written straight to the database (a succeeded job with a stored result):
what is checked here is the request, not the search (tests/workers/test_warm_start.py runs it).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.db import jobs as jobs_repo
from service.db.models import JobStatus
from service.db.session import session_scope
from service.main import create_app
from service.settings import Settings
from tests.api.keys import bearer, issue_key
from workers.engine.spec import JobSpec, MetricRef, Task

JOB: dict[str, Any] = {"dataset": "builtin:breast_cancer", "metric": "f1"}
BEST = {"loss": "bce", "loss_params": {}, "training": {"learning_rate": 0.001}}


def earlier_job(
    settings: Settings,
    *,
    tenant: str = "default",
    task: Task = Task.BINARY,
    status: JobStatus = JobStatus.SUCCEEDED,
) -> str:
    """A job of ``tenant`` on ``task`` that ended with ``status`` (with a result if it
    succeeded)."""
    metric = "f1" if task is Task.BINARY else "mae"
    dataset = "builtin:breast_cancer" if task is Task.BINARY else "builtin:diabetes"
    spec = JobSpec(dataset=dataset, task=task, metric=MetricRef(name=metric))
    with session_scope(settings.resolved_database_url) as session:
        row, _ = jobs_repo.create_job(session=session, spec=spec, tenant=tenant)
        if status is not JobStatus.QUEUED:
            result = {"best": BEST} if status is JobStatus.SUCCEEDED else None
            jobs_repo.finish_job(session=session, job_id=row.id, status=status, result=result)
        return row.id


def total(client: TestClient, headers: dict[str, str] | None = None) -> int:
    count: int = client.get("/v1/jobs", headers=headers).json()["total"]
    return count


def refused(
    client: TestClient, warm_start: Any, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    before = total(client, headers)
    response = client.post("/v1/jobs", json={**JOB, "warm_start": warm_start}, headers=headers)
    assert response.status_code == 422, response.text
    assert total(client, headers) == before, "a refused job must not be stored"
    error: dict[str, Any] = response.json()["error"]
    return error


def test_a_succeeded_job_of_the_same_task_is_accepted(
    client: TestClient, settings: Settings
) -> None:
    earlier = earlier_job(settings)
    response = client.post("/v1/jobs", json={**JOB, "warm_start": {"from_jobs": [earlier]}})
    assert response.status_code == 202, response.text
    assert response.json()["spec"]["warm_start"] == {"from_jobs": [earlier]}
    auto = client.post("/v1/jobs", json={**JOB, "warm_start": "auto"})
    assert auto.status_code == 202, auto.text
    assert auto.json()["spec"]["warm_start"] == "auto"


def test_an_unknown_job_is_refused_by_its_id(client: TestClient, settings: Settings) -> None:
    earlier = earlier_job(settings)
    error = refused(client, {"from_jobs": [earlier, "no-such-job"]})
    assert error["message"] == "warm_start.from_jobs: no job with id 'no-such-job'"
    assert error["details"][0]["loc"] == ["body", "warm_start", "from_jobs", 1]


def test_a_job_that_has_not_succeeded_is_refused(client: TestClient, settings: Settings) -> None:
    for status in (JobStatus.QUEUED, JobStatus.FAILED, JobStatus.CANCELLED):
        job_id = earlier_job(settings, status=status)
        error = refused(client, {"from_jobs": [job_id]})
        assert f"job {job_id!r} is {status.value}" in error["message"]
        assert "warm_start.from_jobs" in error["message"]


def test_a_job_of_another_task_is_refused(client: TestClient, settings: Settings) -> None:
    job_id = earlier_job(settings, task=Task.REGRESSION)
    error = refused(client, {"from_jobs": [job_id]})
    assert error["message"] == (
        f"warm_start.from_jobs: job {job_id!r} searched a regression task and this job's task "
        "is binary"
    )


def test_another_tenants_job_reads_as_no_job(settings: Settings) -> None:
    own, other = issue_key(settings, "team-a"), issue_key(settings, "team-b")
    theirs = earlier_job(settings, tenant="team-b")
    with TestClient(create_app(settings)) as client:
        error = refused(client, {"from_jobs": [theirs]}, bearer(own))
        assert error["message"] == f"warm_start.from_jobs: no job with id {theirs!r}"
        accepted = client.post(
            "/v1/jobs", json={**JOB, "warm_start": {"from_jobs": [theirs]}}, headers=bearer(other)
        )
        assert accepted.status_code == 202, accepted.text


@pytest.mark.parametrize(
    ("warm_start", "fragment"),
    [
        ({"from_jobs": []}, "at least 1 item"),
        ({"from_jobs": ["a", "a"]}, "job 'a' is named more than once"),
        ({"from_jobs": [f"j{i}" for i in range(21)]}, "at most 20 items"),
        ({"from_jobs": ["a"], "auto": True}, "Extra inputs are not permitted"),
        ("latest", "warm_start"),
    ],
)
def test_malformed_warm_starts_are_refused(
    client: TestClient, warm_start: Any, fragment: str
) -> None:
    error = refused(client, warm_start)
    assert fragment in error["message"] or any(
        fragment in detail["message"] for detail in error["details"]
    ), error
