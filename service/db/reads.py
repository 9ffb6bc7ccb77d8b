"""The API's read model: what polling clients ask for, each in one query, without blocking.

Polling is the API's hot path (many pipelines ask "how far is my job?" every few seconds), so
these reads are async (no hop through the request thread pool, which cost about a third of a
poll's CPU) and use SQLAlchemy Core on autocommit connections rather than the ORM (building ORM
objects, their identity map and a BEGIN ... COMMIT around a read cost about four times the CPU
of the query itself). The rows they return have the attributes the presenters need
(:class:`JobFields`, :class:`ShardFields`, :class:`TrialFields`); the ORM rows have the same
ones, so the presenters serve both. The job's ``result`` is left out: only ``/best`` and the
report read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from service.db.models import JobRow, ShardRow, TrialRow
from service.db.session import PoolOptions

_JOBS = JobRow.__table__
_SHARDS = ShardRow.__table__
_TRIALS = TrialRow.__table__
_JOB_COLUMNS = [column for column in _JOBS.c if column.name != "result"]
# Labelled: the job has a status of its own.
_SHARD_COLUMNS = [
    _SHARDS.c[name].label(f"shard_{name}")
    for name in ("shard", "status", "worker", "attempts", "heartbeat_at")
]


class JobFields(Protocol):
    """A job as the presenters read it (a :class:`JobRow`, or a row of this module)."""

    id: str
    status: str
    spec: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    trial_budget: int
    trials_waiting: int
    trials_running: int
    trials_complete: int
    trials_pruned: int
    trials_failed: int
    trials_lost: int
    best_trial_number: int | None
    best_value: float | None
    best_family: str | None
    best_loss: str | None
    progress_at: datetime | None
    notify: dict[str, Any] | None


class ShardFields(Protocol):
    shard: int
    status: str
    worker: str | None
    attempts: int
    heartbeat_at: datetime | None


class TrialFields(Protocol):
    number: int
    state: str
    arm: str | None
    family: str | None
    loss: str | None
    loss_params: dict[str, Any]
    training: dict[str, Any]
    value: float | None
    threshold: Any
    temperature: float | None
    started_at: datetime | None
    finished_at: datetime | None
    failure_reason: str | None
    warm_start_from: str | None


@dataclass(frozen=True)
class JobView:
    """A job and its shards, in shard order."""

    job: JobFields
    shards: list[ShardFields]


_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}


def read_engine(url: str, pool: PoolOptions) -> AsyncEngine:
    """An async engine on ``url`` for these reads: autocommit (each read is its own snapshot,
    no BEGIN/COMMIT), connections checked before use (``pool_pre_ping``).

    The engine belongs to the event loop that first uses it: the API makes one per process at
    start-up and disposes of it at shutdown.
    """
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.get_backend_name())
    if driver is None:
        raise ValueError(f"no async driver for {parsed.drivername!r}; use SQLite or PostgreSQL")
    kwargs = pool.engine_kwargs()
    if driver.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 60}
    engine = create_async_engine(parsed.set(drivername=driver), **kwargs)
    return engine.execution_options(isolation_level="AUTOCOMMIT")


# Built once: a poll only binds the job id (building and hashing a select costs as much as
# running it).
_JOB_VIEW = (
    select(*_JOB_COLUMNS, *_SHARD_COLUMNS)
    .select_from(_JOBS.outerjoin(_SHARDS, _SHARDS.c.job_id == _JOBS.c.id))
    .where(_JOBS.c.id == bindparam("job_id"))
    .order_by(_SHARDS.c.shard)
)
_JOB_SPEC = select(_JOBS.c.spec).where(_JOBS.c.id == bindparam("job_id"))
_JOB_TENANT = select(_JOBS.c.tenant).where(_JOBS.c.id == bindparam("job_id"))


async def job_view(connection: AsyncConnection, job_id: str) -> JobView | None:
    """The job and its shards, in one query; None if there is no such job."""
    views = _group((await connection.execute(_JOB_VIEW, {"job_id": job_id})).all())
    return views[0] if views else None


async def job_spec(connection: AsyncConnection, job_id: str) -> dict[str, Any] | None:
    """The job's stored spec; None if there is no such job."""
    spec = (await connection.execute(_JOB_SPEC, {"job_id": job_id})).scalar()
    return cast(dict[str, Any] | None, spec)


async def job_tenant(connection: AsyncConnection, job_id: str) -> str | None:
    """The tenant the job belongs to; None if there is no such job."""
    tenant = (await connection.execute(_JOB_TENANT, {"job_id": job_id})).scalar()
    return cast(str | None, tenant)


async def job_views(
    connection: AsyncConnection,
    *,
    tenant: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[JobView], int]:
    """A page of jobs (newest first) with their shards, and the total under the same filters
    (one tenant's jobs, or every tenant's when ``tenant`` is None)."""
    page = select(_JOBS.c.id, _JOBS.c.created_at)
    count = select(func.count()).select_from(_JOBS)
    for column, value in ((_JOBS.c.tenant, tenant), (_JOBS.c.status, status)):
        if value is not None:
            page, count = page.where(column == value), count.where(column == value)
    ids = page.order_by(_JOBS.c.created_at.desc(), _JOBS.c.id).limit(limit).offset(offset)
    chosen = ids.subquery()
    query = (
        select(*_JOB_COLUMNS, *_SHARD_COLUMNS)
        .select_from(
            _JOBS.join(chosen, chosen.c.id == _JOBS.c.id).outerjoin(
                _SHARDS, _SHARDS.c.job_id == _JOBS.c.id
            )
        )
        .order_by(_JOBS.c.created_at.desc(), _JOBS.c.id, _SHARDS.c.shard)
    )
    views = _group((await connection.execute(query)).all())
    return views, int((await connection.execute(count)).scalar_one())


async def trial_page(
    connection: AsyncConnection,
    job_id: str,
    *,
    by_value: bool,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[TrialFields], int]:
    """A page of the job's trials and their total: by number, or by value with the trials
    that have none last (ties by number)."""
    query = select(_TRIALS).where(_TRIALS.c.job_id == job_id)
    if by_value:
        value = _TRIALS.c.value.desc() if descending else _TRIALS.c.value.asc()
        query = query.order_by(value.nulls_last(), _TRIALS.c.number.asc())
    else:
        number = _TRIALS.c.number
        query = query.order_by(number.desc() if descending else number.asc())
    rows = (await connection.execute(query.limit(limit).offset(offset))).all()
    total = select(func.count()).select_from(_TRIALS).where(_TRIALS.c.job_id == job_id)
    return cast(list[TrialFields], rows), int((await connection.execute(total)).scalar_one())


@dataclass
class _Shard:
    shard: int
    status: str
    worker: str | None
    attempts: int
    heartbeat_at: datetime | None


def _group(rows: Sequence[Row[Any]]) -> list[JobView]:
    """Rows of job ⟕ shard, in job order, grouped into one view per job."""
    views: dict[str, JobView] = {}
    for row in rows:
        # A Core row has an attribute per selected column: the JobFields ones, by construction.
        view = views.setdefault(row.id, JobView(cast(JobFields, row), []))
        if row.shard_shard is not None:
            view.shards.append(
                _Shard(
                    row.shard_shard,
                    row.shard_status,
                    row.shard_worker,
                    row.shard_attempts,
                    row.shard_heartbeat_at,
                )
            )
    return list(views.values())


_JOB_FIELDS = select(*_JOB_COLUMNS).where(_JOBS.c.id == bindparam("job_id"))
_TRIALS_FROM = (
    select(_TRIALS)
    .where(_TRIALS.c.job_id == bindparam("job_id"), _TRIALS.c.number >= bindparam("first"))
    .order_by(_TRIALS.c.number)
)
_STATES_BEFORE = (
    select(_TRIALS.c.state, func.count())
    .where(_TRIALS.c.job_id == bindparam("job_id"), _TRIALS.c.number < bindparam("first"))
    .group_by(_TRIALS.c.state)
)


async def job_fields(connection: AsyncConnection, job_id: str) -> JobFields | None:
    """The job without its shards; None if there is no such job."""
    row = (await connection.execute(_JOB_FIELDS, {"job_id": job_id})).first()
    return cast(JobFields | None, row)


async def trials_from(connection: AsyncConnection, job_id: str, first: int) -> list[TrialFields]:
    """The job's trials numbered ``first`` or more, by number."""
    rows = (await connection.execute(_TRIALS_FROM, {"job_id": job_id, "first": first})).all()
    return cast(list[TrialFields], rows)


async def states_before(connection: AsyncConnection, job_id: str, first: int) -> dict[str, int]:
    """How many of the job's trials numbered below ``first`` are in each state."""
    rows = (await connection.execute(_STATES_BEFORE, {"job_id": job_id, "first": first})).all()
    return {str(state): int(count) for state, count in rows}
