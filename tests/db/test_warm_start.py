"""The warm-start repository on both backends: which earlier jobs lend their best setups (the
query reads the stored result and spec as JSON, which each dialect spells its own way)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from service.db import jobs as jobs_repo
from service.db import warm_start
from service.db.models import JobRow, JobStatus, utcnow
from service.db.session import session_scope
from workers.engine.spec import JobSpec, MetricRef, Task

FINGERPRINT = "ab" * 32


def job(
    url: str,
    *,
    loss: str,
    tenant: str = "team-a",
    task: Task = Task.BINARY,
    fingerprint: str | None = FINGERPRINT,
    status: JobStatus = JobStatus.SUCCEEDED,
    finished_minutes_ago: int = 0,
) -> str:
    metric = "f1" if task is Task.BINARY else "mae"
    spec = JobSpec(dataset="data.csv", task=task, metric=MetricRef(name=metric))
    best: dict[str, Any] = {
        "trial_number": 3,
        "arm": "search",
        "family": "proxy",
        "loss": loss,
        "loss_params": {"margin": 1.5},
        "training": {"learning_rate": 0.004, "batch_size": 64},
        "threshold": None,
        "validation": 0.8,
    }
    result = {"best": best, "dataset": {"source": {"reference": "x", "fingerprint": fingerprint}}}
    with session_scope(url) as session:
        row, _ = jobs_repo.create_job(session=session, spec=spec, tenant=tenant)
        if status is not JobStatus.QUEUED:
            jobs_repo.finish_job(session=session, job_id=row.id, status=status, result=result)
            session.execute(
                update(JobRow)
                .where(JobRow.id == row.id)
                .values(finished_at=utcnow() - timedelta(minutes=finished_minutes_ago))
            )
        return row.id


def test_auto_takes_the_tenants_latest_succeeded_jobs_on_the_same_data_and_task(
    database_url: str,
) -> None:
    url = database_url
    older = job(url, loss="hinge", finished_minutes_ago=10)
    newer = job(url, loss="squared_hinge", finished_minutes_ago=1)
    job(url, loss="x", tenant="team-b")  # another tenant's
    job(url, loss="x", fingerprint="cd" * 32)  # other data
    job(url, loss="x", fingerprint=None)  # a builtin set
    job(url, loss="x", task=Task.REGRESSION)  # another task
    job(url, loss="x", status=JobStatus.FAILED)
    current = job(url, loss="x", status=JobStatus.QUEUED)
    with session_scope(url) as session:
        found = warm_start.matching_setups(
            session=session,
            tenant="team-a",
            fingerprint=FINGERPRINT,
            task=Task.BINARY,
            exclude=current,
        )
        assert [(s.from_job, s.loss) for s in found] == [
            (newer, "squared_hinge"),
            (older, "hinge"),
        ]
        assert found[0].loss_params == {"margin": 1.5}
        assert (found[0].learning_rate, found[0].batch_size) == (0.004, 64)
        limited = warm_start.matching_setups(
            session=session,
            tenant="team-a",
            fingerprint=FINGERPRINT,
            task=Task.BINARY,
            exclude=current,
            limit=1,
        )
        assert [s.from_job for s in limited] == [newer]
        assert not warm_start.matching_setups(
            session=session, tenant="team-a", fingerprint=None, task=Task.BINARY, exclude=current
        )


def test_named_jobs_are_checked_and_read_in_the_order_named(database_url: str) -> None:
    url = database_url
    first, second = job(url, loss="hinge"), job(url, loss="squared_hinge")
    theirs = job(url, loss="x", tenant="team-b")
    queued = job(url, loss="x", status=JobStatus.QUEUED)
    regression = job(url, loss="x", task=Task.REGRESSION)
    with session_scope(url) as session:
        named = warm_start.named_setups(
            session=session, tenant="team-a", job_ids=[second, theirs, first], task=Task.BINARY
        )
        assert [s.from_job for s in named] == [second, first]

        def refusal(job_id: str) -> str | None:
            refused = warm_start.check_sources(
                session=session, tenant="team-a", job_ids=[first, job_id], task=Task.BINARY
            )
            assert refused is None or refused.job_id == job_id
            return None if refused is None else refused.message

        assert refusal(second) is None
        assert refusal(theirs) == f"no job with id {theirs!r}"
        assert refusal("missing") == "no job with id 'missing'"
        assert refusal(queued) == (
            f"job {queued!r} is queued: only a succeeded job has a best setup"
        )
        assert refusal(regression) == (
            f"job {regression!r} searched a regression task and this job's task is binary"
        )
