"""Webhook repository: tenant endpoints and signing secrets, and the outbox of deliveries.

Deliveries are claimed with a lease (compare-and-set on ``lease_until``), so any number of
dispatchers (one per worker) can share the outbox without sending one message twice at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from service.db.models import TenantRow, WebhookDeliveryRow, WebhookEndpointRow, utcnow
from service.db.tenants import ensure_tenant

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def tenant_secret(*, session: Session, tenant: str, make: Callable[[], str]) -> str:
    """The tenant's webhook signing secret, made with ``make`` the first time (race-safe: two
    first askers both get the one that was stored)."""
    ensure_tenant(session=session, name=tenant)
    session.execute(
        update(TenantRow)
        .where(TenantRow.name == tenant, TenantRow.webhook_secret.is_(None))
        .values(webhook_secret=make())
    )
    row = session.get(TenantRow, tenant, populate_existing=True)
    assert row is not None
    assert row.webhook_secret is not None
    return row.webhook_secret


def add_endpoint(
    *, session: Session, tenant: str, url: str, events: list[str]
) -> WebhookEndpointRow:
    row = WebhookEndpointRow(
        id=str(uuid.uuid4()), tenant=tenant, url=url, events=events, created_at=utcnow()
    )
    session.add(row)
    session.flush()
    return row


def endpoints(*, session: Session, tenant: str) -> list[WebhookEndpointRow]:
    """The tenant's endpoints, oldest first."""
    query = (
        select(WebhookEndpointRow)
        .where(WebhookEndpointRow.tenant == tenant)
        .order_by(WebhookEndpointRow.created_at, WebhookEndpointRow.id)
    )
    return list(session.scalars(query).all())


def remove_endpoint(*, session: Session, tenant: str, endpoint_id: str) -> bool:
    """Delete the tenant's endpoint; False if it has none with that id."""
    row = session.get(WebhookEndpointRow, endpoint_id)
    if row is None or row.tenant != tenant:
        return False
    session.delete(row)
    return True


def queue_delivery(
    *,
    session: Session,
    job_id: str,
    tenant: str,
    event: str,
    url: str,
    endpoint_id: str | None,
    payload: dict[str, Any],
) -> None:
    """Add one message to the outbox, due now (sent after the transaction commits)."""
    now = utcnow()
    session.add(
        WebhookDeliveryRow(
            id=f"msg_{uuid.uuid4().hex}",
            job_id=job_id,
            tenant=tenant,
            event=event,
            url=url,
            endpoint_id=endpoint_id,
            payload=payload,
            status=PENDING,
            attempts=0,
            attempts_log=[],
            created_at=now,
            next_attempt_at=now,
        )
    )


@dataclass(frozen=True)
class Due:
    """A claimed delivery: what to send, where, and the tenant whose secret signs it."""

    id: str
    tenant: str
    url: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int


def claim_due(*, session: Session, limit: int, lease_s: float) -> list[Due]:
    """Lease up to ``limit`` pending deliveries that are due, oldest first."""
    now = utcnow()
    candidates = session.scalars(
        select(WebhookDeliveryRow.id)
        .where(
            WebhookDeliveryRow.status == PENDING,
            WebhookDeliveryRow.next_attempt_at <= now,
            _lease_free(now),
        )
        .order_by(WebhookDeliveryRow.next_attempt_at)
        .limit(limit)
    ).all()
    claimed: list[Due] = []
    for delivery_id in candidates:
        taken = session.execute(
            update(WebhookDeliveryRow)
            .where(
                WebhookDeliveryRow.id == delivery_id,
                WebhookDeliveryRow.status == PENDING,
                _lease_free(now),
            )
            .values(lease_until=now + timedelta(seconds=lease_s))
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            row = session.get(WebhookDeliveryRow, delivery_id, populate_existing=True)
            assert row is not None
            claimed.append(
                Due(row.id, row.tenant, row.url, dict(row.payload), row.created_at, row.attempts)
            )
    return claimed


def _lease_free(now: datetime) -> Any:
    return or_(WebhookDeliveryRow.lease_until.is_(None), WebhookDeliveryRow.lease_until < now)


def record_attempt(
    *,
    session: Session,
    delivery_id: str,
    attempt: dict[str, Any],
    status: str,
    next_attempt_at: datetime | None,
) -> None:
    """Log one attempt and what follows it: ``delivered``, ``failed``, or ``pending`` again at
    ``next_attempt_at``; the lease is released."""
    row = session.get(WebhookDeliveryRow, delivery_id, populate_existing=True)
    if row is None:  # its job was deleted meanwhile
        return
    row.attempts_log = [*row.attempts_log, attempt]
    row.attempts = row.attempts + 1
    row.status = status
    row.next_attempt_at = next_attempt_at
    row.lease_until = None
    if status != PENDING:
        row.finished_at = utcnow()


def job_deliveries(
    *, session: Session, job_id: str, limit: int, offset: int
) -> tuple[Sequence[WebhookDeliveryRow], int]:
    """A page of the job's deliveries, oldest first, and how many there are."""
    where = WebhookDeliveryRow.job_id == job_id
    total = session.scalar(select(func.count()).select_from(WebhookDeliveryRow).where(where))
    rows = session.scalars(
        select(WebhookDeliveryRow)
        .where(where)
        .order_by(WebhookDeliveryRow.created_at, WebhookDeliveryRow.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, int(total or 0)
