"""The API's read model: a job with its shards in one query, pages of jobs, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from service.db import jobs as jobs_repo
from service.db import shards as shards_repo
from service.db.models import JobRow, utcnow
from service.db.reads import job_spec, job_view, job_views, read_engine
from service.db.session import DEFAULT_POOL, session_scope
from workers.engine.spec import Budget, JobSpec, MetricRef, Parallelism, Task

pytestmark = pytest.mark.anyio

SPEC = JobSpec(
    dataset="builtin:iris",
    task=Task.MULTICLASS,
    metric=MetricRef(name="accuracy"),
    budget=Budget(n_trials=7),
)


def new_job(url: str, shards: int = 1, age_s: float = 0.0) -> str:
    with session_scope(url) as session:
        spec = SPEC.model_copy(update={"parallelism": Parallelism(shards=shards)})
        row, _ = jobs_repo.create_job(session=session, spec=spec)
        created = utcnow() - timedelta(seconds=age_s)
        session.execute(update(JobRow).where(JobRow.id == row.id).values(created_at=created))
        return row.id


async def test_a_job_is_read_with_its_shards_in_order(database_url: str) -> None:
    job_id = new_job(database_url, shards=3)
    with session_scope(database_url) as session:
        shards_repo.claim_shard(
            session=session, job_id=job_id, shard=1, worker="w1", stale_after_s=30
        )
    engine = read_engine(database_url, DEFAULT_POOL)
    async with engine.connect() as connection:
        view = await job_view(connection, job_id)
        assert await job_view(connection, "no-such-job") is None
        assert JobSpec.model_validate(await job_spec(connection, job_id)) == SPEC.model_copy(
            update={"parallelism": Parallelism(shards=3)}
        )
    await engine.dispose()
    assert view is not None
    assert (view.job.id, view.job.status, view.job.trial_budget) == (job_id, "running", 7)
    assert [(s.shard, s.status, s.worker, s.attempts) for s in view.shards] == [
        (0, "queued", None, 0),
        (1, "running", "w1", 1),
        (2, "queued", None, 0),
    ]
    assert view.shards[1].heartbeat_at is not None


async def test_pages_of_jobs_are_newest_first_with_every_shard(database_url: str) -> None:
    oldest, middle, newest = (new_job(database_url, shards=2, age_s=age) for age in (30, 20, 10))
    with session_scope(database_url) as session:
        jobs_repo.request_cancel(session=session, job_id=middle)
    engine = read_engine(database_url, DEFAULT_POOL)
    async with engine.connect() as connection:
        first, total = await job_views(connection, tenant=None, status=None, limit=2, offset=0)
        second, _ = await job_views(connection, tenant=None, status=None, limit=2, offset=2)
        cancelled, count = await job_views(
            connection, tenant=None, status="cancelled", limit=10, offset=0
        )
    await engine.dispose()
    assert total == 3
    assert [v.job.id for v in first + second] == [newest, middle, oldest]
    assert all([s.shard for s in v.shards] == [0, 1] for v in first + second)
    assert ([v.job.id for v in cancelled], count) == ([middle], 1)
