"""Admitting a job for ``POST /v1/jobs``, in one transaction: lock the tenant, give back the job
an earlier request with the same ``Idempotency-Key`` created, check the tenant's limits, store
the job (and the key).

The tenant's row stays locked until the job is committed, so a tenant's submissions are admitted
one at a time: two cannot both take its last free place, and two with the same key cannot both
create a job (a duplicate waits, then finds the first one's job). The key's primary key is the
backstop if they ever did.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from service import idempotency, quotas
from service.db import datasets, tenants
from service.db import idempotency as keys_repo
from service.db import jobs as repo
from service.db.models import IdempotencyKeyRow, JobRow, ShardRow, utcnow
from service.idempotency import Idempotent
from service.settings import Settings
from workers.engine.spec import JobSpec

ACCEPTED = 202


class Replay(Exception):
    """An earlier request with the same key and body created ``job_id``: answer with it."""

    def __init__(self, job_id: str, status_code: int) -> None:
        super().__init__(job_id)
        self.job_id = job_id
        self.status_code = status_code


async def idempotent_request(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias=idempotency.HEADER,
            description="Makes the submission safe to retry: within 24 hours the same key with "
            "the same body returns the job the first request created (same id, same status "
            "code) instead of a second one; with another body it is a 422. Keys are per tenant.",
            # Documented here, checked by parse_key (whose 422 says what a key may be).
            json_schema_extra={"pattern": idempotency.KEY_PATTERN, "maxLength": 257},
        ),
    ] = None,
) -> Idempotent | None:
    """The request's key and body fingerprint, if it has an ``Idempotency-Key``."""
    if key is None:
        return None
    # Async, so the body FastAPI has already read (and cached) can be read here too.
    return Idempotent(idempotency.parse_key(key), idempotency.fingerprint(await request.body()))


IdempotentDep = Annotated[Idempotent | None, Depends(idempotent_request)]


def earlier(session: Session, tenant: str, request: Idempotent) -> Replay | None:
    """The answer to replay for ``request``'s key, if it was used in the last 24 hours;
    raises the 422 if it was used with another body."""
    since = utcnow() - idempotency.WINDOW
    row = keys_repo.find(session=session, tenant=tenant, key=request.key, since=since)
    return None if row is None else _replay(row, request)


def admit(
    session: Session,
    tenant: str,
    spec: JobSpec,
    settings: Settings,
    request: Idempotent | None,
    notify: dict[str, Any] | None = None,
    dataset_ids: list[str] | None = None,
    dataset_pins: dict[str, Any] | None = None,
) -> tuple[JobRow, list[ShardRow]]:
    """Store the job for ``tenant`` unless a limit refuses it (429, 422) or ``request``'s key
    already created one (:class:`Replay`: the caller rolls back and answers with that job)."""
    locked = tenants.lock_for_submission(session=session, name=tenant)
    if request is not None:
        keys_repo.forget_before(
            session=session, tenant=tenant, before=utcnow() - idempotency.WINDOW
        )
        replay = earlier(session, tenant, request)
        if replay is not None:
            raise replay
    limits = quotas.in_force(locked, settings)
    quotas.check_trials(limits, tenant, spec.budget.n_trials)
    if quotas.limits_jobs(limits):
        quotas.check_jobs(limits, tenant, tenants.usage(session=session, tenant=tenant))
    row, shard_rows = repo.create_job(
        session=session, spec=spec, tenant=tenant, notify=notify, dataset_pins=dataset_pins
    )
    datasets.link_job(session=session, job_id=row.id, dataset_ids=dataset_ids or ())
    if request is not None:
        keys_repo.record(
            session=session,
            tenant=tenant,
            key=request.key,
            fingerprint=request.fingerprint,
            job_id=row.id,
            status_code=ACCEPTED,
        )
    return row, shard_rows


def _replay(row: IdempotencyKeyRow, request: Idempotent) -> Replay:
    if row.fingerprint != request.fingerprint:
        raise idempotency.reused(request.key, row.job_id)
    return Replay(row.job_id, row.status_code)
