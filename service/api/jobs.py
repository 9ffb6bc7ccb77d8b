"""Jobs: submit, list, inspect, follow trials, get the best setup, cancel."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import HTMLResponse
from optuna.trial import TrialState
from sqlalchemy.orm import Session

from service.api.deps import SessionDep, SettingsDep
from service.api.presenters import final_best, job_out, provisional_best
from service.db import jobs as repo
from service.db.models import JobRow, JobStatus
from service.db.session import session_scope
from service.errors import ApiError, not_found
from service.queue import enqueue_job
from service.reports import build_report, render_report
from service.schemas import BestOut, ErrorResponse, JobCreate, JobOut, Page, TrialOut
from service.settings import Settings
from service.trials import load_trials, trial_views
from service.validation import build_spec
from workers.engine.metrics import get_metric
from workers.engine.spec import SearchSpec

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**_ERRORS, 503: {"model": ErrorResponse}},
)
def create_job(request: JobCreate, response: Response, settings: SettingsDep) -> JobOut:
    """Validate a job, store it, then queue it for the workers."""
    spec = build_spec(request, settings.resolved_data_roots)
    url = settings.resolved_database_url
    with session_scope(url) as session:
        shards = request.parallelism.shards or settings.default_shards
        row = repo.create_job(session=session, spec=spec.to_dict(), shards=shards)
    # Enqueue only after the commit: a worker must find the row it is sent.
    try:
        enqueue_job(row.id, row.shards, settings)
    except Exception as exc:
        logger.exception("could not enqueue job %s", row.id)
        with session_scope(url) as session:
            repo.finish_job(
                session=session,
                job_id=row.id,
                status=JobStatus.FAILED,
                error="the job could not be queued: the broker is unreachable "
                f"({type(exc).__name__})",
            )
        raise ApiError(
            503, "broker_unavailable", "the job queue is unreachable; try again"
        ) from exc
    response.headers["Location"] = f"/v1/jobs/{row.id}"
    with session_scope(url) as session:
        return _view(session, settings, repo.get_job(session=session, job_id=row.id) or row)


@router.get("")
def list_jobs(
    session: SessionDep,
    settings: SettingsDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[JobOut]:
    """Jobs, newest first, optionally with one status."""
    rows, total = repo.list_jobs(session=session, status=status_filter, limit=limit, offset=offset)
    items = [_view(session, settings, row) for row in rows]
    return Page[JobOut](items=items, total=total, limit=limit, offset=offset)


@router.get("/{job_id}", responses=_ERRORS)
def get_job(job_id: str, session: SessionDep, settings: SettingsDep) -> JobOut:
    """Status, progress, best so far, timing and error of one job."""
    return _view(session, settings, _job(session, job_id))


@router.get("/{job_id}/trials", responses=_ERRORS)
def list_trials(
    job_id: str,
    session: SessionDep,
    settings: SettingsDep,
    sort: Literal["number", "value"] = "number",
    order: Literal["asc", "desc"] | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[TrialOut]:
    """Every trial: loss, parameters, training settings, metric, state and duration.

    ``sort=value`` puts the best first by default (in the metric's direction); trials without a
    value come last.
    """
    row = _job(session, job_id)
    trials = trial_views(load_trials(settings.resolved_database_url, row.study_name))
    if sort == "value":
        maximize = get_metric(SearchSpec.from_dict(row.spec).metric.name).greater_is_better
        descending = (order or ("desc" if maximize else "asc")) == "desc"
        with_value = sorted(
            (t for t in trials if t.value is not None),
            key=lambda t: (t.value, -t.number),
            reverse=descending,
        )
        trials = with_value + [t for t in trials if t.value is None]
    elif order == "desc":
        trials = trials[::-1]
    return Page[TrialOut](
        items=trials[offset : offset + limit], total=len(trials), limit=limit, offset=offset
    )


@router.get("/{job_id}/best", responses={**_ERRORS, 409: {"model": ErrorResponse}})
def get_best(job_id: str, session: SessionDep, settings: SettingsDep) -> BestOut:
    """The best loss setup with its baseline comparison (provisional while the search runs)."""
    row = _job(session, job_id)
    if row.status == JobStatus.SUCCEEDED.value and row.result:
        return final_best(row)
    best = provisional_best(row, load_trials(settings.resolved_database_url, row.study_name))
    if best is None:
        detail = f" ({row.error})" if row.error else ""
        raise ApiError(
            409,
            "no_result_yet",
            f"job {job_id} is {row.status} and no trial has completed yet{detail}; "
            "poll GET /v1/jobs/{id} for progress",
        )
    return best


@router.get("/{job_id}/report", responses={**_ERRORS, 409: {"model": ErrorResponse}})
def get_report(job_id: str, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Everything about the search and its result, as JSON (final once the job succeeded)."""
    return _report(session, settings, job_id)


@router.get(
    "/{job_id}/report.html",
    response_class=HTMLResponse,
    responses={**_ERRORS, 409: {"model": ErrorResponse}},
)
def get_report_html(job_id: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """The report for a person, with figures."""
    return HTMLResponse(render_report(_report(session, settings, job_id)))


def _report(session: Session, settings: Settings, job_id: str) -> dict[str, Any]:
    row = _job(session, job_id)
    trials = load_trials(settings.resolved_database_url, row.study_name)
    if not any(t.state == TrialState.COMPLETE for t in trials) and not row.result:
        raise ApiError(
            409,
            "no_result_yet",
            f"job {job_id} is {row.status} and no trial has completed yet"
            + (f" ({row.error})" if row.error else ""),
        )
    return build_report(row, repo.get_shards(session=session, job_id=job_id), trials)


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**_ERRORS, 409: {"model": ErrorResponse}},
)
def cancel_job(job_id: str, session: SessionDep, settings: SettingsDep) -> JobOut:
    """Cancel a job: at once if queued, at the next trial boundary if running."""
    row = _job(session, job_id)
    if not repo.request_cancel(session=session, job_id=job_id):
        raise ApiError(409, "already_finished", f"job {job_id} has already finished ({row.status})")
    session.commit()
    session.refresh(row)
    return _view(session, settings, row)


def _view(session: Session, settings: Settings, row: JobRow) -> JobOut:
    shards = repo.get_shards(session=session, job_id=row.id)
    return job_out(row, shards, load_trials(settings.resolved_database_url, row.study_name))


def _job(session: SessionDep, job_id: str) -> JobRow:
    row = repo.get_job(session=session, job_id=job_id)
    if row is None:
        raise not_found("job", job_id)
    return row
