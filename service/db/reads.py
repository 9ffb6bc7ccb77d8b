"""The API's read model: what polling clients ask for, each in one query on an autocommit
connection.

Polling is the API's hot path (many pipelines ask "how far is my job?" every few seconds), so
these reads use SQLAlchemy Core rather than the ORM: building ORM objects, their identity map
and a transaction (BEGIN ... COMMIT) around a read cost about four times the CPU of the query
itself. The rows they return have the attributes the presenters need (:class:`JobFields`,
:class:`ShardFields`, :class:`TrialFields`); the ORM rows have the same ones, so the presenters
serve both. The job's ``result`` is left out: only ``/best`` and the report read it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Row, func, select

from service.db.models import JobRow, ShardRow, TrialRow
from service.db.session import PoolOptions, get_engine

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
    started_at: datetime | None
    finished_at: datetime | None
    failure_reason: str | None


@dataclass(frozen=True)
class JobView:
    """A job and its shards, in shard order."""

    job: JobFields
    shards: list[ShardFields]


@contextmanager
def read_connection(url: str, pool: PoolOptions) -> Iterator[Connection]:
    """A pooled connection in autocommit mode: each read is its own snapshot, no BEGIN/COMMIT."""
    engine = get_engine(url, pool).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        yield connection


def job_view(connection: Connection, job_id: str) -> JobView | None:
    """The job and its shards, in one query; None if there is no such job."""
    query = (
        select(*_JOB_COLUMNS, *_SHARD_COLUMNS)
        .select_from(_JOBS.outerjoin(_SHARDS, _SHARDS.c.job_id == _JOBS.c.id))
        .where(_JOBS.c.id == job_id)
        .order_by(_SHARDS.c.shard)
    )
    views = _group(connection.execute(query).all())
    return views[0] if views else None


def job_spec(connection: Connection, job_id: str) -> dict[str, Any] | None:
    """The job's stored spec; None if there is no such job."""
    spec = connection.execute(select(_JOBS.c.spec).where(_JOBS.c.id == job_id)).scalar()
    return cast(dict[str, Any] | None, spec)


def job_views(
    connection: Connection, *, status: str | None, limit: int, offset: int
) -> tuple[list[JobView], int]:
    """A page of jobs (newest first) with their shards, and the total under the same filter."""
    page = select(_JOBS.c.id, _JOBS.c.created_at)
    count = select(func.count()).select_from(_JOBS)
    if status is not None:
        page, count = page.where(_JOBS.c.status == status), count.where(_JOBS.c.status == status)
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
    views = _group(connection.execute(query).all())
    return views, int(connection.execute(count).scalar_one())


def trial_page(
    connection: Connection,
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
    rows = connection.execute(query.limit(limit).offset(offset)).all()
    total = select(func.count()).select_from(_TRIALS).where(_TRIALS.c.job_id == job_id)
    return cast(list[TrialFields], rows), int(connection.execute(total).scalar_one())


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
