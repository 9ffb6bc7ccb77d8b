"""Queueing a job's webhook messages, in the transaction that changes the job.

Each function here is called with the session whose transaction makes the change the event
reports (the job starting, ending, or making progress), so the message is queued if and only if
the change commits. Nothing is sent here: the workers' dispatcher sends what is due. A job
without subscribers (no ``notify``, no tenant endpoint for the event) queues nothing.

Every message is ``{"type", "timestamp", "data"}`` (the Standard Webhooks payload shape);
``data`` always has the job's ``job_id``, ``status`` and ``links``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from service.db import webhooks as repo
from service.db.models import JobRow, JobStatus, utcnow
from service.results import result_summary
from service.schemas.webhooks import WebhookEvent

_ENDED = {
    JobStatus.SUCCEEDED: WebhookEvent.SUCCEEDED,
    JobStatus.FAILED: WebhookEvent.FAILED,
    JobStatus.CANCELLED: WebhookEvent.CANCELLED,
}


def job_started(session: Session, job_id: str) -> None:
    """The job has just started (its first shard was claimed)."""
    job = _job(session, job_id)
    started = job.started_at.isoformat() if job.started_at else None
    _queue(session, job, WebhookEvent.STARTED, {"started_at": started})


def job_ended(session: Session, job_id: str, status: JobStatus) -> None:
    """The job has just ended with ``status``: the winner's summary if it succeeded, the
    error if it failed."""
    job = _job(session, job_id)
    data: dict[str, Any] = {
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": job.error,
    }
    if status is JobStatus.SUCCEEDED and job.result:
        data["best"] = result_summary(job)
    _queue(session, job, _ENDED[status], data)


def job_progressed(session: Session, job_id: str, every_s: float) -> None:
    """The job's progress after trials were recorded: queued at most once per ``every_s``
    per job (whichever shard records first in a period sends it)."""
    now = utcnow()
    due = session.execute(
        update(JobRow)
        .where(
            JobRow.id == job_id,
            JobRow.status == JobStatus.RUNNING.value,
            or_(
                JobRow.progress_notified_at.is_(None),
                JobRow.progress_notified_at <= now - timedelta(seconds=every_s),
            ),
        )
        .values(progress_notified_at=now)
    )
    if not due.rowcount:  # type: ignore[attr-defined]
        return
    job = _job(session, job_id)
    finished = job.trials_complete + job.trials_pruned + job.trials_failed
    data: dict[str, Any] = {
        "progress": {
            "finished": finished,
            "planned": job.trial_budget,
            "complete": job.trials_complete,
            "pruned": job.trials_pruned,
            "failed": job.trials_failed,
            "running": job.trials_running,
        },
        "best": None,
    }
    if job.best_trial_number is not None:
        data["best"] = {
            "trial_number": job.best_trial_number,
            "value": job.best_value,
            "loss": job.best_loss,
            "family": job.best_family,
        }
    _queue(session, job, WebhookEvent.PROGRESS, data)


def _job(session: Session, job_id: str) -> JobRow:
    job = session.get(JobRow, job_id, populate_existing=True)
    assert job is not None, job_id
    return job


def _queue(session: Session, job: JobRow, event: WebhookEvent, data: dict[str, Any]) -> None:
    targets = _subscribers(session, job, event)
    if not targets:
        return
    payload = {
        "type": event.value,
        "timestamp": utcnow().isoformat(),
        "data": {
            "job_id": job.id,
            "status": job.status,
            **data,
            "links": {"job": f"/v1/jobs/{job.id}", "deliveries": f"/v1/jobs/{job.id}/deliveries"},
        },
    }
    for url, endpoint_id in targets:
        repo.queue_delivery(
            session=session,
            job_id=job.id,
            tenant=job.tenant,
            event=event.value,
            url=url,
            endpoint_id=endpoint_id,
            payload=payload,
        )


def _subscribers(
    session: Session, job: JobRow, event: WebhookEvent
) -> list[tuple[str, str | None]]:
    """(url, endpoint id or None for the job's own notify) of everyone who asked for ``event``."""
    targets: list[tuple[str, str | None]] = []
    if job.notify and event.value in job.notify.get("events", ()):
        targets.append((job.notify["url"], None))
    for endpoint in repo.endpoints(session=session, tenant=job.tenant):
        if event.value in endpoint.events:
            targets.append((endpoint.url, endpoint.id))
    return targets
