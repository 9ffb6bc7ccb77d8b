"""Shard leases: how a job's Celery tasks coordinate.

A job runs as one or more shards, each a Celery task working on the same Optuna study. A worker
*claims* a shard (compare-and-set), keeps its lease alive with heartbeats, and marks it done when
no budget is left. A shard whose heartbeat goes stale is put back on the queue. The last shard to
finish *claims finalization* and writes the job's result. The trial budget the shards share is
:mod:`service.db.trial_ledger`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from service.db.jobs import ACTIVE
from service.db.models import JobRow, JobStatus, ShardRow, ShardStatus, utcnow


@dataclass(frozen=True)
class ShardClaim:
    """What a worker needs to run a shard it has just claimed."""

    job_id: str
    shard: int
    shards: int
    spec: dict[str, object]
    study_name: str
    started_at_timestamp: float
    attempts: int
    tenant: str
    started_job: bool = False
    """This claim started the job (its first shard claimed): the job.started moment."""


@dataclass(frozen=True)
class Lease:
    """What a worker learns when it touches its shard: whether to go on, and if not, why."""

    cancel_requested: bool
    still_owner: bool
    job_finished: bool


def claim_shard(
    *, session: Session, job_id: str, shard: int, worker: str, stale_after_s: float
) -> ShardClaim | None:
    """Lease the shard for ``worker``, or return None if it is not this worker's to run.

    A queued shard is claimed; so is a running one whose heartbeat is older than
    ``stale_after_s`` (its worker was lost). A shard with a live worker, a done shard, or a shard
    of a finished job is left alone, so duplicate deliveries do nothing. Claiming the first shard
    marks the job running.
    """
    now = utcnow()
    stale = now - timedelta(seconds=stale_after_s)
    job_active = exists().where(JobRow.id == job_id, JobRow.status.in_(ACTIVE))
    claimable = or_(
        ShardRow.status == ShardStatus.QUEUED.value,
        and_(ShardRow.status == ShardStatus.RUNNING.value, ShardRow.heartbeat_at < stale),
    )
    claimed = session.execute(
        update(ShardRow)
        .where(ShardRow.job_id == job_id, ShardRow.shard == shard, claimable, job_active)
        .values(
            status=ShardStatus.RUNNING.value,
            worker=worker,
            heartbeat_at=now,
            attempts=ShardRow.attempts + 1,
            started_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return None
    starting = session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.status == JobStatus.QUEUED.value)
        .values(status=JobStatus.RUNNING.value, started_at=now)
    )
    job = session.get(JobRow, job_id, populate_existing=True)
    row = session.get(ShardRow, (job_id, shard), populate_existing=True)
    assert job is not None
    assert row is not None
    started = job.started_at or now
    return ShardClaim(
        job_id,
        shard,
        job.shards,
        dict(job.spec),
        job.study_name,
        started.timestamp(),
        row.attempts,
        job.tenant,
        started_job=bool(starting.rowcount),  # type: ignore[attr-defined]
    )


def _held(job_id: str, shard: int, worker: str) -> ColumnElement[bool]:
    """The shard is running under ``worker`` (its lease is still this worker's)."""
    return and_(
        ShardRow.job_id == job_id,
        ShardRow.shard == shard,
        ShardRow.worker == worker,
        ShardRow.status == ShardStatus.RUNNING.value,
    )


def touch_shard(*, session: Session, job_id: str, shard: int, worker: str) -> Lease:
    """Record that ``worker`` is alive on the shard; report cancels, lost leases, finished jobs."""
    session.execute(
        update(ShardRow).where(_held(job_id, shard, worker)).values(heartbeat_at=utcnow())
    )
    found = session.execute(
        select(JobRow.cancel_requested, JobRow.status, ShardRow.worker, ShardRow.status)
        .join(ShardRow, ShardRow.job_id == JobRow.id)
        .where(JobRow.id == job_id, ShardRow.shard == shard)
    ).one_or_none()
    if found is None:
        return Lease(cancel_requested=True, still_owner=False, job_finished=True)
    cancel_requested, job_status, owner, shard_status = found
    return Lease(
        cancel_requested=bool(cancel_requested),
        still_owner=owner == worker and shard_status == ShardStatus.RUNNING.value,
        job_finished=job_status not in ACTIVE,
    )


def finish_shard(*, session: Session, job_id: str, shard: int, worker: str) -> bool:
    """Mark the shard done; False if it is no longer this worker's."""
    done = session.execute(
        update(ShardRow)
        .where(_held(job_id, shard, worker))
        .values(status=ShardStatus.DONE.value, finished_at=utcnow())
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def claim_finalization(*, session: Session, job_id: str, shard: int, worker: str) -> bool:
    """Whether this shard computes the job's result: every other shard is done.

    The claim is exclusive (a second shard, or this one after its worker was lost and the shard
    reclaimed, gets it only if no other shard holds it) and puts this shard back to running under
    ``worker``, so that if the worker dies while finalizing the shard is queued again.
    """
    others_unfinished = exists().where(
        ShardRow.job_id == job_id,
        ShardRow.shard != shard,
        ShardRow.status != ShardStatus.DONE.value,
    )
    claimed = session.execute(
        update(JobRow)
        .where(
            JobRow.id == job_id,
            JobRow.status.in_(ACTIVE),
            or_(JobRow.finalizer_shard.is_(None), JobRow.finalizer_shard == shard),
            ~others_unfinished,
        )
        .values(finalizer_shard=shard)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return False
    session.execute(
        update(ShardRow)
        .where(ShardRow.job_id == job_id, ShardRow.shard == shard)
        .values(status=ShardStatus.RUNNING.value, worker=worker, heartbeat_at=utcnow())
    )
    return True


def release_shard(*, session: Session, job_id: str, shard: int, worker: str) -> bool:
    """Give the shard back to the queue (its worker cannot go on now, e.g. the database blinked).

    It is marked as never sent, so the sweeper sends it again at its next round.
    """
    released = session.execute(
        update(ShardRow)
        .where(_held(job_id, shard, worker))
        .values(status=ShardStatus.QUEUED.value, sent_at=None)
    )
    return bool(released.rowcount)  # type: ignore[attr-defined]


def requeue_unfinalized(*, session: Session, settle_s: float) -> list[tuple[str, int]]:
    """Running jobs whose shards are all done but that nobody finalized: queue one shard again.

    A worker that dies between marking its shard done and claiming finalization leaves its job
    like this (a finalizer that dies mid-way leaves its shard running instead, and is found as a
    stale shard). Only jobs whose last shard ended ``settle_s`` ago are taken, so a finalizer
    that is about to claim is not raced. The shard queued again is the one that claimed
    finalization if any, else shard 0; whoever claims it finds no trial to run and finalizes.
    """
    now = utcnow()
    unfinished = exists().where(
        ShardRow.job_id == JobRow.id, ShardRow.status != ShardStatus.DONE.value
    )
    last_done = (
        select(func.max(ShardRow.finished_at)).where(ShardRow.job_id == JobRow.id).scalar_subquery()
    )
    candidates = session.execute(
        select(JobRow.id, func.coalesce(JobRow.finalizer_shard, 0)).where(
            JobRow.status == JobStatus.RUNNING.value,
            ~unfinished,
            last_done < now - timedelta(seconds=settle_s),
        )
    ).all()
    moved: list[tuple[str, int]] = []
    for job_id, shard in candidates:
        all_done = ~exists().where(
            ShardRow.job_id == job_id, ShardRow.status != ShardStatus.DONE.value
        )
        result = session.execute(
            update(ShardRow)
            .where(ShardRow.job_id == job_id, ShardRow.shard == shard, all_done)
            .values(status=ShardStatus.QUEUED.value, sent_at=now, sends=ShardRow.sends + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            moved.append((job_id, int(shard)))
    return moved


def requeue_stale_shards(*, session: Session, stale_after_s: float) -> list[tuple[str, int]]:
    """Put running shards whose worker went silent back to queued; return them.

    The caller sends them to the broker again (they count as sent now: if that send fails,
    :func:`claim_resends` picks them up). Each shard is moved by exactly one caller.
    """
    stale = utcnow() - timedelta(seconds=stale_after_s)
    silent = and_(ShardRow.status == ShardStatus.RUNNING.value, ShardRow.heartbeat_at < stale)
    candidates = session.execute(
        select(ShardRow.job_id, ShardRow.shard)
        .join(JobRow, JobRow.id == ShardRow.job_id)
        .where(silent, JobRow.status.in_(ACTIVE))
    ).all()
    moved: list[tuple[str, int]] = []
    for job_id, shard in candidates:
        result = session.execute(
            update(ShardRow)
            .where(ShardRow.job_id == job_id, ShardRow.shard == shard, silent)
            .values(status=ShardStatus.QUEUED.value, sent_at=utcnow(), sends=ShardRow.sends + 1)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            moved.append((job_id, shard))
    return moved


def claim_resends(
    *, session: Session, resend_after_s: float, max_backoff_s: float
) -> list[tuple[str, int]]:
    """Queued shards whose message may have been lost, claimed for sending again.

    A queued shard of an active job whose message was never sent (the broker was down when the
    job was accepted) or was sent long ago without a worker claiming it (the message was lost
    in a broker restart, or is still waiting behind other jobs) is due after ``resend_after_s``,
    doubling with every resend up to ``max_backoff_s``; a duplicate message is harmless
    (claiming the shard is compare-and-set). Each due shard is claimed by exactly one caller,
    which must send it.
    """
    now = utcnow()
    last_sent = func.coalesce(ShardRow.sent_at, JobRow.created_at)
    candidates = session.execute(
        select(ShardRow.job_id, ShardRow.shard, ShardRow.sent_at, ShardRow.sends, last_sent)
        .join(JobRow, JobRow.id == ShardRow.job_id)
        .where(
            ShardRow.status == ShardStatus.QUEUED.value,
            JobRow.status.in_(ACTIVE),
            last_sent < now - timedelta(seconds=resend_after_s),
        )
    ).all()
    claimed: list[tuple[str, int]] = []
    for job_id, shard, sent_at, sends, since in candidates:
        wait = min(max_backoff_s, resend_after_s * 2 ** max(0, sends - 1))
        if _aware(since) > now - timedelta(seconds=wait):
            continue
        same_send = ShardRow.sent_at.is_(None) if sent_at is None else ShardRow.sent_at == sent_at
        taken = session.execute(
            update(ShardRow)
            .where(
                ShardRow.job_id == job_id,
                ShardRow.shard == shard,
                ShardRow.status == ShardStatus.QUEUED.value,
                same_send,
            )
            .values(sent_at=now, sends=ShardRow.sends + 1)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            claimed.append((job_id, shard))
    return claimed


def _aware(moment: datetime) -> datetime:
    # A raw column expression (coalesce) comes back without the UTC type's conversion.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
