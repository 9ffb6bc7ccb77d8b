"""Tenant repository: a tenant's row (its own limits) and how many of its jobs are active."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.db.models import JobRow, JobStatus, TenantRow, utcnow


@dataclass(frozen=True)
class Usage:
    """A tenant's jobs that have not ended: waiting for a worker, and being worked on."""

    queued: int
    running: int

    @property
    def active(self) -> int:
        return self.queued + self.running


def ensure_tenant(*, session: Session, name: str) -> None:
    """Make ``name``'s row if it has none (a no-op otherwise, also under a race)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    session.execute(
        insert(TenantRow)
        .values(name=name, jobs_submitted=0, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )


def lock_for_submission(*, session: Session, name: str) -> TenantRow:
    """The tenant's row, made if need be and locked until the transaction ends, with
    ``jobs_submitted`` counted up (a refused submission rolls the count back).

    The lock is an UPDATE, not ``SELECT ... FOR UPDATE``: SQLite has no row locks, but an
    UPDATE takes its write lock, so on both databases a tenant's submissions are checked against
    its limits one after another and two of them cannot both take the last free place.
    """
    bump = (
        update(TenantRow)
        .where(TenantRow.name == name)
        .values(jobs_submitted=TenantRow.jobs_submitted + 1)
    )
    if not session.execute(bump).rowcount:  # type: ignore[attr-defined]
        ensure_tenant(session=session, name=name)
        session.execute(bump)
    row = session.get(TenantRow, name, populate_existing=True)
    assert row is not None
    return row


def usage(*, session: Session, tenant: str) -> Usage:
    """How many of the tenant's jobs are queued and running."""
    counts = dict(
        session.execute(
            select(JobRow.status, func.count())
            .where(
                JobRow.tenant == tenant,
                JobRow.status.in_((JobStatus.QUEUED.value, JobStatus.RUNNING.value)),
            )
            .group_by(JobRow.status)
        ).all()
    )
    return Usage(counts.get(JobStatus.QUEUED.value, 0), counts.get(JobStatus.RUNNING.value, 0))


def get_tenant(*, session: Session, name: str) -> TenantRow | None:
    """The tenant's row, or None if it has none (it may still have keys or jobs)."""
    return session.get(TenantRow, name)


def list_tenants(*, session: Session) -> list[TenantRow]:
    """Every tenant with a row, by name."""
    return list(session.scalars(select(TenantRow).order_by(TenantRow.name)).all())


def set_limits(
    *,
    session: Session,
    name: str,
    max_concurrent_jobs: int | None,
    max_queued_jobs: int | None,
    max_trials_per_job: int | None,
) -> TenantRow:
    """Replace the tenant's own limits (None: the service's default), making its row if need be."""
    ensure_tenant(session=session, name=name)
    session.execute(
        update(TenantRow)
        .where(TenantRow.name == name)
        .values(
            max_concurrent_jobs=max_concurrent_jobs,
            max_queued_jobs=max_queued_jobs,
            max_trials_per_job=max_trials_per_job,
            updated_at=utcnow(),
        )
    )
    row = session.get(TenantRow, name, populate_existing=True)
    assert row is not None
    return row
