"""One job's routes: inspect it, follow its trials, get the best setup and the report, cancel.

Every route here is under ``/v1/jobs/{job_id}`` and the router checks that the job is the
caller's (:func:`service.api.auth.owned_job`): another tenant's job is a 404, like no job at all.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session

from service.api.auth import owned_job
from service.api.deps import DatabaseDep, ViewCacheDep
from service.api.params import Limit, Offset
from service.api.presenters import delivery_out, job_out, provisional_best, trial_out
from service.db import jobs as repo
from service.db import reads
from service.db import trials as trials_repo
from service.db import webhooks as webhooks_repo
from service.db.models import JobRow, JobStatus
from service.errors import ApiError, not_found
from service.reports import build_report, render_report
from service.results import final_best
from service.schemas import BestOut, ErrorResponse, JobOut, Page, TrialOut
from service.schemas.reports import ReportOut
from service.schemas.webhooks import DeliveryOut
from service.webhooks import outbox
from workers.engine.losses import BASELINE_LOSS
from workers.engine.metrics import get_metric
from workers.engine.spec import JobSpec

router = APIRouter(prefix="/v1/jobs/{job_id}", tags=["jobs"], dependencies=[Depends(owned_job)])
_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
    503: {"model": ErrorResponse},  # the database is down or every connection is busy
}


@router.get("", responses=_ERRORS, response_model=JobOut)
async def get_job(job_id: str, db: DatabaseDep, views: ViewCacheDep) -> Response:
    """Status, progress, best so far, timing and error of one job.

    The view may be up to ``LOSS_SEARCH_READ_CACHE_S`` (half a second by default) old: pollers
    of the same job share one read per interval.
    """

    async def render() -> bytes | None:
        async with db.reads() as connection:
            view = await reads.job_view(connection, job_id)
        return None if view is None else job_out(view.job, view.shards).model_dump_json().encode()

    body = await views.get(job_id, render)
    if body is None:
        raise not_found("job", job_id)
    return Response(body, media_type="application/json")


@router.get("/trials", responses=_ERRORS, response_model=Page[TrialOut])
async def list_trials(
    job_id: str,
    db: DatabaseDep,
    views: ViewCacheDep,
    sort: Literal["number", "value"] = "number",
    order: Literal["asc", "desc"] | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """Every trial: loss, parameters, training settings, metric, state and duration.

    ``sort=value`` puts the best first by default (in the metric's direction); trials without a
    value come last. Like the job, a page may be up to ``LOSS_SEARCH_READ_CACHE_S`` old:
    pollers of the same page share one read per interval.
    """

    async def render() -> bytes | None:
        async with db.reads() as connection:
            page = await _trial_page(connection, job_id, sort, order, limit, offset)
        return None if page is None else page.model_dump_json().encode()

    key = f"{job_id}/trials?sort={sort}&order={order}&limit={limit}&offset={offset}"
    body = await views.get(key, render)
    if body is None:
        raise not_found("job", job_id)
    return Response(body, media_type="application/json")


async def _trial_page(
    connection: AsyncConnection,
    job_id: str,
    sort: str,
    order: str | None,
    limit: int,
    offset: int,
) -> Page[TrialOut] | None:
    by_value = sort == "value"
    spec = await reads.job_spec(connection, job_id)
    if spec is None:
        return None
    default_order = "desc" if by_value and _maximize(spec) else "asc"
    rows, total = await reads.trial_page(
        connection,
        job_id,
        by_value=by_value,
        descending=(order or default_order) == "desc",
        limit=limit,
        offset=offset,
    )
    items = [trial_out(trial) for trial in rows]
    return Page[TrialOut](items=items, total=total, limit=limit, offset=offset)


CodeFormat = Literal["json", "pytorch", "keras"]
_PYTHON = "text/x-python"


@router.get(
    "/best",
    response_model=BestOut,
    responses={
        **_ERRORS,
        200: {"content": {_PYTHON: {"schema": {"type": "string"}}}},
        409: {"model": ErrorResponse},
    },
)
def get_best(
    job_id: str,
    db: DatabaseDep,
    format: Annotated[
        CodeFormat,
        Query(
            description="json: the setup and its comparison; pytorch or keras: the returned "
            "setup's code as a Python file (once the job has succeeded)."
        ),
    ] = "json",
) -> Response | BestOut:
    """The best loss setup with its baseline comparison (provisional while the search runs),
    or the code that reproduces the returned setup in PyTorch or Keras 3."""
    with db.session() as session:
        best = _best(session, _job(session, job_id))
    if format == "json":
        return best
    return _code_file(best, format)


def _code_file(best: BestOut, framework: Literal["pytorch", "keras"]) -> Response:
    """The returned setup's code as a file (the final result carries it; trials do not)."""
    code = best.best.code if framework == "pytorch" else best.best.keras_code
    if not best.final or code is None:
        why = (
            "the code comes with the final result: wait for the job to succeed"
            if not best.final
            else f"this job's result has no {framework} code (it finished before "
            f"{framework} export existed): submit the job again for it"
        )
        raise ApiError(409, "code_unavailable", f"job {best.job_id}: {why}")
    filename = f"loss_search_{best.job_id}_{best.best.loss}_{framework}.py"
    return Response(
        code,
        media_type=_PYTHON,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _best(session: Session, row: JobRow) -> BestOut:
    if row.status == JobStatus.SUCCEEDED.value and row.result:
        return final_best(row)
    maximize = _maximize(row.spec)
    best = trials_repo.best_trial(session=session, job_id=row.id, maximize=maximize)
    if best is None:
        raise _no_result_yet(row)
    baseline_name = BASELINE_LOSS[JobSpec.model_validate(row.spec).planned_task]
    baseline = trials_repo.best_trial(
        session=session, job_id=row.id, maximize=maximize, loss=baseline_name
    )
    return provisional_best(row, best, baseline)


@router.get("/deliveries", responses=_ERRORS)
def list_deliveries(
    job_id: str, db: DatabaseDep, limit: Limit = 100, offset: Offset = 0
) -> Page[DeliveryOut]:
    """The job's webhook messages, oldest first: event, URL, status and every attempt."""
    with db.session() as session:
        _job(session, job_id)
        rows, total = webhooks_repo.job_deliveries(
            session=session, job_id=job_id, limit=limit, offset=offset
        )
        items = [delivery_out(row) for row in rows]
    return Page[DeliveryOut](items=items, total=total, limit=limit, offset=offset)


@router.get("/report", responses={**_ERRORS, 409: {"model": ErrorResponse}})
def get_report(job_id: str, db: DatabaseDep) -> ReportOut:
    """Everything about the search and its result, as JSON (final once the job succeeded)."""
    with db.session() as session:
        return _report(session, job_id)


@router.get(
    "/report.html",
    response_class=HTMLResponse,
    responses={**_ERRORS, 409: {"model": ErrorResponse}},
)
def get_report_html(job_id: str, db: DatabaseDep) -> HTMLResponse:
    """The report for a person, with figures."""
    with db.session() as session:
        report = _report(session, job_id)
    return HTMLResponse(render_report(report))  # plots drawn with the connection given back


def _report(session: Session, job_id: str) -> ReportOut:
    row = _job(session, job_id)
    trials = trials_repo.all_trials(session=session, job_id=job_id)
    if not any(t.state == "complete" for t in trials) and not row.result:
        raise _no_result_yet(row)
    return build_report(row, repo.get_shards(session=session, job_id=job_id), trials)


def _no_result_yet(row: JobRow) -> ApiError:
    detail = f" ({row.error})" if row.error else ""
    return ApiError(
        409,
        "no_result_yet",
        f"job {row.id} is {row.status} and no trial has completed yet{detail}; "
        "poll GET /v1/jobs/{id} for progress",
    )


@router.post(
    "/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**_ERRORS, 409: {"model": ErrorResponse}},
)
def cancel_job(job_id: str, db: DatabaseDep, views: ViewCacheDep) -> JobOut:
    """Cancel a job: at once if queued, at the next trial boundary if running."""
    with db.session() as session:
        row = _job(session, job_id)
        if not repo.request_cancel(session=session, job_id=job_id):
            message = f"job {job_id} has already finished ({row.status})"
            raise ApiError(409, "already_finished", message)
        session.refresh(row)
        if row.status == JobStatus.CANCELLED.value:  # it was queued: cancelled now
            outbox.job_ended(session, job_id, JobStatus.CANCELLED)
        session.commit()
        views.drop(job_id)  # after the commit: no poller is shown the job before the cancel
        session.refresh(row)
        return _view(session, row)


def _view(session: Session, row: JobRow) -> JobOut:
    return job_out(row, repo.get_shards(session=session, job_id=row.id))


def _maximize(spec: dict[str, Any]) -> bool:
    return get_metric(JobSpec.model_validate(spec).metric.name).greater_is_better


def _job(session: Session, job_id: str) -> JobRow:
    row = repo.get_job(session=session, job_id=job_id)
    if row is None:
        raise not_found("job", job_id)
    return row
