"""Job repository: every read and state change of a job row goes through these functions.

State changes are compare-and-set updates (``UPDATE ... WHERE status = ...``) so the API and
workers can race safely: a job cancelled while queued is never started, and a finished job is
never reopened.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.auth.principal import DEFAULT_TENANT
from service.db.models import JobRow, JobStatus, ShardRow, ShardStatus, utcnow
from workers.engine.spec import JobSpec
from workers.engine.trial_records import TRIAL_STATES

ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def create_job(
    *,
    session: Session,
    spec: JobSpec,
    tenant: str = DEFAULT_TENANT,
    notify: dict[str, Any] | None = None,
    dataset_pins: dict[str, Any] | None = None,
) -> tuple[JobRow, list[ShardRow]]:
    """Insert a queued job of ``tenant`` for the planned ``spec`` with its queued shards (one
    unless the spec says); the caller commits, then enqueues one message per shard (and
    :func:`mark_sent`)."""
    row, shard_rows = new_job(spec=spec, tenant=tenant, notify=notify)
    row.dataset_pins = dataset_pins
    session.add(row)
    session.add_all(shard_rows)
    session.flush()
    return row, shard_rows


def new_job(
    *, spec: JobSpec, tenant: str, notify: dict[str, Any] | None = None
) -> tuple[JobRow, list[ShardRow]]:
    """The rows of a new queued job, not yet added to a session (``notify``: where its own
    webhooks go)."""
    job_id = str(uuid.uuid4())
    shards = spec.parallelism.shards or 1
    # Every column is set here, so the rows can be shown without reading them back.
    row = JobRow(
        id=job_id,
        tenant=tenant,
        status=JobStatus.QUEUED.value,
        spec=spec.model_dump(mode="json"),
        study_name=f"job-{job_id}",
        created_at=utcnow(),
        cancel_requested=False,
        shards=shards,
        trial_budget=spec.budget.n_trials,
        trials_reserved=0,
        notify=notify,
        dataset_pins=None,
        progress_notified_at=None,
        **{f"trials_{state}": 0 for state in TRIAL_STATES},
    )
    shard_rows = [
        ShardRow(job_id=job_id, shard=index, status=ShardStatus.QUEUED.value, attempts=0, sends=0)
        for index in range(shards)
    ]
    return row, shard_rows


def mark_sent(*, session: Session, job_id: str, shards: Sequence[int]) -> None:
    """Record that the shards' messages were handed to the broker just now."""
    session.execute(
        update(ShardRow)
        .where(ShardRow.job_id == job_id, ShardRow.shard.in_(shards))
        .values(sent_at=utcnow(), sends=ShardRow.sends + 1)
    )


def get_shards(*, session: Session, job_id: str) -> list[ShardRow]:
    """The job's shards, in order."""
    query = select(ShardRow).where(ShardRow.job_id == job_id).order_by(ShardRow.shard)
    return list(session.scalars(query).all())


def get_job(*, session: Session, job_id: str) -> JobRow | None:
    """The job with ``job_id``, or None."""
    return session.get(JobRow, job_id)


def request_cancel(*, session: Session, job_id: str) -> bool:
    """Cancel a queued job now, or ask a running one to stop at the next trial boundary.

    Returns False when the job had already finished.
    """
    now = utcnow()
    queued = session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.status == JobStatus.QUEUED.value)
        .values(status=JobStatus.CANCELLED.value, cancel_requested=True, finished_at=now)
    )
    if queued.rowcount:  # type: ignore[attr-defined]
        return True
    running = session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.status == JobStatus.RUNNING.value)
        .values(cancel_requested=True)
    )
    return bool(running.rowcount)  # type: ignore[attr-defined]


def finish_job(
    *,
    session: Session,
    job_id: str,
    status: JobStatus,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> JobStatus | None:
    """Move an active job to a final status; returns the status set, None if it had ended.

    A cancel answered 202 always wins: a job asked to cancel ends ``cancelled`` (without a
    result; its trials are kept) even if its search completed. The cancel route and this
    update race on the job row, and whichever commits first decides: the cancel is either
    honoured here or refused there (409).
    """
    assert status.is_final
    now = utcnow()
    if status is JobStatus.SUCCEEDED:
        finished = session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.status.in_(ACTIVE), ~JobRow.cancel_requested)
            .values(status=status.value, result=result, error=error, finished_at=now)
        )
        if finished.rowcount:  # type: ignore[attr-defined]
            return status
        status, result, error = JobStatus.CANCELLED, None, None
    finished = session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.status.in_(ACTIVE))
        .values(status=status.value, result=result, error=error, finished_at=now)
    )
    return status if finished.rowcount else None  # type: ignore[attr-defined]
