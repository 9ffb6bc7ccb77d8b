"""Warm start: the earlier jobs a new job may start from, and their best setups.

A job of another tenant is treated as if it did not exist. Only succeeded jobs have a best setup;
only jobs whose (planned) task is the new job's can lend it one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.models import JobRow, JobStatus
from workers.engine.results import Setup
from workers.engine.spec import Task
from workers.engine.warm_start import AUTO_WARM_START_JOBS, WarmSetup


@dataclass(frozen=True)
class Refusal:
    """Why a named job cannot warm-start the new one."""

    job_id: str
    message: str


def check_sources(
    *, session: Session, tenant: str, job_ids: Sequence[str], task: Task
) -> Refusal | None:
    """The first of ``job_ids`` that is not ``tenant``'s own succeeded job of ``task``, with
    why; None if they all are."""
    rows = _rows(session, tenant, job_ids)
    for job_id in job_ids:
        row = rows.get(job_id)
        if row is None:
            return Refusal(job_id, f"no job with id {job_id!r}")
        if row.status != JobStatus.SUCCEEDED.value or row.result is None:
            return Refusal(
                job_id, f"job {job_id!r} is {row.status}: only a succeeded job has a best setup"
            )
        earlier = row.spec.get("task")
        if earlier != task.value:
            return Refusal(
                job_id,
                f"job {job_id!r} searched a {earlier} task and this job's task is {task.value}",
            )
    return None


def named_setups(
    *, session: Session, tenant: str, job_ids: Sequence[str], task: Task
) -> list[WarmSetup]:
    """The best setups of those of ``job_ids`` that are ``tenant``'s succeeded jobs of
    ``task``, in the order named (the others were refused when the job was submitted; a job
    deleted since is left out)."""
    rows = _rows(session, tenant, job_ids)
    return [
        setup
        for job_id in job_ids
        if (row := rows.get(job_id)) is not None and (setup := _best(row, task)) is not None
    ]


def matching_setups(
    *,
    session: Session,
    tenant: str,
    fingerprint: str | None,
    task: Task,
    exclude: str,
    limit: int = AUTO_WARM_START_JOBS,
) -> list[WarmSetup]:
    """The best setups of ``tenant``'s latest succeeded jobs (at most ``limit``, newest first)
    that read data with this ``fingerprint`` and searched ``task``. Data without a fingerprint
    (a builtin set) matches nothing."""
    if fingerprint is None:
        return []
    query = (
        select(JobRow)
        .where(
            JobRow.tenant == tenant,
            JobRow.status == JobStatus.SUCCEEDED.value,
            JobRow.id != exclude,
            JobRow.result[("dataset", "source", "fingerprint")].as_string() == fingerprint,
            JobRow.spec["task"].as_string() == task.value,
        )
        .order_by(JobRow.finished_at.desc(), JobRow.created_at.desc())
        .limit(limit)
    )
    return [setup for row in session.scalars(query) if (setup := _best(row, task)) is not None]


def _rows(session: Session, tenant: str, job_ids: Sequence[str]) -> dict[str, JobRow]:
    query = select(JobRow).where(JobRow.id.in_(list(job_ids)), JobRow.tenant == tenant)
    return {row.id: row for row in session.scalars(query)}


def _best(row: JobRow, task: Task) -> WarmSetup | None:
    result: dict[str, Any] | None = row.result
    if row.status != JobStatus.SUCCEEDED.value or not result or "best" not in result:
        return None
    if row.spec.get("task") != task.value:
        return None
    return WarmSetup.of(row.id, Setup.model_validate(result["best"]))
