"""Idempotency key repository: which job a tenant's key created, and with which body."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from service.db.models import IdempotencyKeyRow, utcnow


def find(*, session: Session, tenant: str, key: str, since: datetime) -> IdempotencyKeyRow | None:
    """The tenant's submission with ``key`` made at or after ``since``; None if there is none."""
    row = session.get(IdempotencyKeyRow, (tenant, key), populate_existing=True)
    return row if row is not None and row.created_at >= since else None


def record(
    *, session: Session, tenant: str, key: str, fingerprint: str, job_id: str, status_code: int
) -> None:
    """Remember that the tenant's ``key`` created ``job_id``, answered with ``status_code``."""
    session.add(
        IdempotencyKeyRow(
            tenant=tenant,
            key=key,
            fingerprint=fingerprint,
            job_id=job_id,
            status_code=status_code,
            created_at=utcnow(),
        )
    )
    session.flush()


def forget_before(*, session: Session, tenant: str, before: datetime) -> None:
    """Drop the tenant's keys made before ``before``: they may be used again for new jobs."""
    session.execute(
        delete(IdempotencyKeyRow).where(
            IdempotencyKeyRow.tenant == tenant, IdempotencyKeyRow.created_at < before
        )
    )
