"""The API's read model: a job with its shards in one query, pages of jobs, on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from service.db import jobs as jobs_repo
from service.db import shards as shards_repo
from service.db.models import JobRow, utcnow
from service.db.reads import job_spec, job_view, job_views, read_connection
from service.db.session import DEFAULT_POOL, session_scope

SPEC = {"dataset": "builtin:iris", "metric": {"name": "accuracy"}, "n_trials": 7}


def new_job(url: str, shards: int = 1, age_s: float = 0.0) -> str:
    with session_scope(url) as session:
        row, _ = jobs_repo.create_job(session=session, spec=SPEC, shards=shards)
        created = utcnow() - timedelta(seconds=age_s)
        session.execute(update(JobRow).where(JobRow.id == row.id).values(created_at=created))
        return row.id


def test_a_job_is_read_with_its_shards_in_order(database_url: str) -> None:
    job_id = new_job(database_url, shards=3)
    with session_scope(database_url) as session:
        shards_repo.claim_shard(
            session=session, job_id=job_id, shard=1, worker="w1", stale_after_s=30
        )
    with read_connection(database_url, DEFAULT_POOL) as connection:
        view = job_view(connection, job_id)
        assert job_view(connection, "no-such-job") is None
        assert job_spec(connection, job_id) == SPEC
    assert view is not None
    assert (view.job.id, view.job.status, view.job.trial_budget) == (job_id, "running", 7)
    assert [(s.shard, s.status, s.worker, s.attempts) for s in view.shards] == [
        (0, "queued", None, 0),
        (1, "running", "w1", 1),
        (2, "queued", None, 0),
    ]
    assert view.shards[1].heartbeat_at is not None


def test_pages_of_jobs_are_newest_first_with_every_shard(database_url: str) -> None:
    oldest, middle, newest = (new_job(database_url, shards=2, age_s=age) for age in (30, 20, 10))
    with session_scope(database_url) as session:
        jobs_repo.request_cancel(session=session, job_id=middle)
    with read_connection(database_url, DEFAULT_POOL) as connection:
        first, total = job_views(connection, status=None, limit=2, offset=0)
        second, _ = job_views(connection, status=None, limit=2, offset=2)
        cancelled, count = job_views(connection, status="cancelled", limit=10, offset=0)
    assert total == 3
    assert [v.job.id for v in first + second] == [newest, middle, oldest]
    assert all([s.shard for s in v.shards] == [0, 1] for v in first + second)
    assert ([v.job.id for v in cancelled], count) == ([middle], 1)
