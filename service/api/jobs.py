"""Jobs: submit one, list them (a member sees its own tenant's; an admin sees every tenant's).

The routes of one job are in :mod:`service.api.job`.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy.exc import IntegrityError

from service.api import submission
from service.api.auth import PrincipalDep, authenticate
from service.api.datasets import StoreDep
from service.api.deps import Database, DatabaseDep, SettingsDep
from service.api.job_owners import JobOwners
from service.api.params import Limit, Offset
from service.api.presenters import job_out
from service.api.submission import IdempotentDep
from service.auth.principal import Principal
from service.datasets import memory, references, remote
from service.datasets.store import DatasetStore
from service.db import jobs as repo
from service.db import reads, warm_start
from service.db.models import JobStatus
from service.errors import ApiError, invalid
from service.idempotency import Idempotent
from service.logs import job_context
from service.openapi import JOB_CREATED
from service.queue import send_shards
from service.schemas import ErrorResponse, JobOut, Page
from service.schemas.jobs import JobSubmission
from service.settings import Settings
from service.validation import planned
from service.webhooks.subscriptions import checked_notify
from workers.engine.spec import JobSpec, WarmStart

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
    request: JobSubmission,
    http: Request,
    response: Response,
    principal: PrincipalDep,
    settings: SettingsDep,
    db: DatabaseDep,
    store: StoreDep,
    idempotent: IdempotentDep,
) -> JobOut:
    """Validate a job, store it for the caller's tenant, then queue it for the workers.

    A job over one of the tenant's limits is refused: 429 with ``Retry-After`` while the tenant
    has too many jobs queued or running, 422 if it asks for more trials than the tenant may.
    With an ``Idempotency-Key`` used in the last 24 hours, the job that key created is returned
    (same id and status code, ``Idempotent-Replayed: true``) and nothing is created.
    A ``warm_start`` naming a job that is not the tenant's own succeeded job of the same task
    is a 422. Once the job is committed it is accepted (202) whatever happens next: if the
    broker cannot take its messages now, the workers' sweeper sends them later. Any error before
    the commit leaves nothing behind.
    """
    tenant = principal.tenant
    replay = _earlier(db, tenant, idempotent)  # a retry needs no second validation
    if replay is not None:
        return _replayed(db, replay, response)
    notify = checked_notify(request.notify, settings)
    submitted = request.spec()
    uploads = _uploads(submitted, principal, db, store)
    with tempfile.TemporaryDirectory(prefix="loss-search-sample-") as samples:
        urls = _remote(uploads.spec, settings, Path(samples))
        roots = [*settings.resolved_data_roots, *([uploads.root] if uploads.root else [])]
        planned_spec = planned(urls.spec, [*roots, Path(samples)], settings.default_shards)
    spec = references.restore(planned_spec, submitted)
    pins = {name: pinned.as_json() for name, pinned in urls.pins.items()} or None
    _check_warm_start(db, tenant, spec)
    try:
        with db.session() as session:
            row, shard_rows = submission.admit(
                session,
                tenant,
                spec,
                settings,
                idempotent,
                notify=notify,
                dataset_ids=uploads.dataset_ids,
                dataset_pins=pins,
            )
            job = job_out(row, shard_rows)  # built before the commit: nothing is read back
    except submission.Replay as duplicate:  # the same key and body, admitted meanwhile
        return _replayed(db, duplicate, response)
    except IntegrityError:
        # A duplicate key (the tenant lock makes it next to impossible): the other one's job.
        raced = _earlier(db, tenant, idempotent)
        if raced is None:
            raise  # not a duplicate key: the integrity error is ours
        return _replayed(db, raced, response)
    owners: JobOwners = http.app.state.job_owners
    owners.remember(row.id, tenant)
    # Enqueue only after the commit: a worker must find the row it is sent.
    with job_context(row.id, tenant=tenant):  # the lines logged meanwhile are about this job
        if send_shards(row.id, range(len(shard_rows)), settings):
            _mark_sent(db, row.id, len(shard_rows))
    response.headers["Location"] = f"/v1/jobs/{row.id}"
    return job


def _uploads(
    spec: JobSpec, principal: Principal, db: Database, store: DatasetStore
) -> references.Resolved:
    """The job's uploaded datasets (the tenant's own; any for an admin), as local files."""
    try:
        with db.session() as session:
            return references.resolve(
                spec, session, store, lambda row: principal.may_see(row.tenant), samples=True
            )
    except references.UnknownDataset as exc:
        raise invalid(str(exc), exc.field) from None


def _remote(spec: JobSpec, settings: Settings, samples: Path) -> remote.Sampled:
    """The job's dataset URLs checked, pinned and sampled (never downloaded whole here)."""
    try:
        return remote.sampled(spec, settings, samples)
    except remote.SourceRefused as exc:
        raise invalid(str(exc), exc.field) from None
    except memory.TooBigForWorkers as exc:
        raise ApiError(413, "dataset_too_large", str(exc)) from None
    except remote.SourceError as exc:
        if exc.client_fault:
            raise invalid(str(exc), exc.field) from None
        raise ApiError(
            503, "dataset_source_unavailable", str(exc), headers={"Retry-After": "30"}
        ) from None


def _check_warm_start(db: Database, tenant: str, spec: JobSpec) -> None:
    """The jobs ``warm_start`` names must be the tenant's own succeeded jobs of the same task
    (another tenant's job reads as no job at all)."""
    if not isinstance(spec.warm_start, WarmStart):
        return
    job_ids = spec.warm_start.from_jobs
    with db.session() as session:
        refusal = warm_start.check_sources(
            session=session, tenant=tenant, job_ids=job_ids, task=spec.planned_task
        )
    if refusal is not None:
        index = job_ids.index(refusal.job_id)
        raise invalid(f"warm_start.from_jobs: {refusal.message}", "warm_start", "from_jobs", index)


def _earlier(db: Database, tenant: str, idempotent: Idempotent | None) -> submission.Replay | None:
    if idempotent is None:
        return None
    with db.session() as session:
        return submission.earlier(session, tenant, idempotent)


def _replayed(db: Database, replay: submission.Replay, response: Response) -> JobOut:
    """The job an earlier request with the same key created, as that request was answered."""
    with db.session() as session:
        row = repo.get_job(session=session, job_id=replay.job_id)
        assert row is not None  # the key row cascades with the job's
        job = job_out(row, repo.get_shards(session=session, job_id=row.id))
    response.status_code = replay.status_code
    response.headers["Location"] = f"/v1/jobs/{row.id}"
    response.headers["Idempotent-Replayed"] = "true"
    return job


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
