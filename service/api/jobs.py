"""Jobs: submit one, list them (a member sees its own tenant's; an admin sees every tenant's).

The routes of one job are in :mod:`service.api.job`.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy.orm import Session

from service import quotas
from service.api.auth import PrincipalDep, authenticate
from service.api.deps import Database, DatabaseDep, SettingsDep
from service.api.job_owners import JobOwners
from service.api.params import Limit, Offset
from service.api.presenters import job_out
from service.db import jobs as repo
from service.db import reads, tenants
from service.db.models import JobStatus
from service.openapi import JOB_CREATED
from service.queue import send_shards
from service.schemas import ErrorResponse, JobOut, Page
from service.settings import Settings
from service.validation import planned
from workers.engine.spec import JobSpec

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/jobs", tags=["jobs"], dependencies=[Depends(authenticate)])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        202: JOB_CREATED,
        422: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
    },
)
def create_job(
    request: JobSpec,
    http: Request,
    response: Response,
    principal: PrincipalDep,
    settings: SettingsDep,
    db: DatabaseDep,
) -> JobOut:
    """Validate a job, store it for the caller's tenant, then queue it for the workers.

    A job over one of the tenant's limits is refused: 429 with ``Retry-After`` while the tenant
    has too many jobs queued or running, 422 if it asks for more trials than the tenant may.
    Once the job is committed it is accepted (202) whatever happens next: if the broker cannot
    take its messages now, the workers' sweeper sends them later. Any error before the commit
    leaves nothing behind.
    """
    spec = planned(request, settings.resolved_data_roots, settings.default_shards)
    with db.session() as session:
        _admit(session, principal.tenant, spec, settings)
        row, shard_rows = repo.create_job(session=session, spec=spec, tenant=principal.tenant)
        job = job_out(row, shard_rows)  # built before the commit: nothing is read back after it
    owners: JobOwners = http.app.state.job_owners
    owners.remember(row.id, principal.tenant)
    shards = len(shard_rows)
    # Enqueue only after the commit: a worker must find the row it is sent.
    if send_shards(row.id, range(shards), settings):
        _mark_sent(db, row.id, shards)
    response.headers["Location"] = f"/v1/jobs/{row.id}"
    return job


def _admit(session: Session, tenant: str, spec: JobSpec, settings: Settings) -> None:
    """Refuse the job if it breaks one of the tenant's limits (429 or 422); the tenant's row
    stays locked until the job is committed, so its submissions are admitted one at a time."""
    limits = quotas.in_force(tenants.lock_for_submission(session=session, name=tenant), settings)
    quotas.check_trials(limits, tenant, spec.budget.n_trials)
    if quotas.limits_jobs(limits):
        quotas.check_jobs(limits, tenant, tenants.usage(session=session, tenant=tenant))


def _mark_sent(db: Database, job_id: str, shards: int) -> None:
    try:
        with db.session() as session:
            repo.mark_sent(session=session, job_id=job_id, shards=range(shards))
    except Exception:  # the job is committed and sent; at worst the sweeper sends it twice
        logger.warning("could not record that job %s was sent", job_id, exc_info=True)


@router.get("", responses={503: {"model": ErrorResponse}})
async def list_jobs(
    principal: PrincipalDep,
    db: DatabaseDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[JobOut]:
    """Jobs, newest first, optionally with one status: the caller's tenant's (every tenant's
    for an admin key)."""
    status = status_filter.value if status_filter is not None else None
    tenant = None if principal.is_admin else principal.tenant
    async with db.reads() as connection:
        views, total = await reads.job_views(
            connection, tenant=tenant, status=status, limit=limit, offset=offset
        )
    items = [job_out(view.job, view.shards) for view in views]
    return Page[JobOut](items=items, total=total, limit=limit, offset=offset)
