"""Dataset repository: a tenant's uploaded datasets and the jobs that read them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.models import DatasetRow, JobDatasetRow, JobRow, JobStatus, utcnow

_ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def find_by_fingerprint(*, session: Session, tenant: str, fingerprint: str) -> DatasetRow | None:
    """The tenant's dataset with these bytes, if it uploaded them before."""
    query = select(DatasetRow).where(
        DatasetRow.tenant == tenant, DatasetRow.fingerprint == fingerprint
    )
    return session.scalars(query).first()


def add_dataset(
    *,
    session: Session,
    tenant: str,
    filename: str,
    key: str,
    fingerprint: str,
    size_bytes: int,
    format: str,
    rows: int,
    columns: list[dict[str, Any]],
) -> DatasetRow:
    row = DatasetRow(
        id=f"ds_{uuid.uuid4().hex[:24]}",
        tenant=tenant,
        filename=filename,
        key=key,
        fingerprint=fingerprint,
        size_bytes=size_bytes,
        format=format,
        rows=rows,
        columns=columns,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def get_dataset(*, session: Session, dataset_id: str) -> DatasetRow | None:
    return session.get(DatasetRow, dataset_id)


def page(
    *, session: Session, tenant: str | None, limit: int, offset: int
) -> tuple[Sequence[DatasetRow], int]:
    """Datasets, newest first: one tenant's, or every tenant's (``tenant`` None)."""
    where = [] if tenant is None else [DatasetRow.tenant == tenant]
    total = session.scalar(select(func.count()).select_from(DatasetRow).where(*where))
    rows = session.scalars(
        select(DatasetRow)
        .where(*where)
        .order_by(DatasetRow.created_at.desc(), DatasetRow.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, int(total or 0)


def active_jobs(*, session: Session, dataset_id: str) -> list[str]:
    """Queued or running jobs that read the dataset."""
    query = (
        select(JobRow.id)
        .join(JobDatasetRow, JobDatasetRow.job_id == JobRow.id)
        .where(JobDatasetRow.dataset_id == dataset_id, JobRow.status.in_(_ACTIVE))
        .order_by(JobRow.created_at)
    )
    return list(session.scalars(query).all())


def file_in_use(*, session: Session, key: str, besides: str | None = None) -> bool:
    """Whether a dataset (other than ``besides``) keeps its bytes in the file ``key``."""
    query = select(DatasetRow.id).where(DatasetRow.key == key)
    if besides is not None:
        query = query.where(DatasetRow.id != besides)
    return session.scalars(query.limit(1)).first() is not None


def link_job(*, session: Session, job_id: str, dataset_ids: Iterable[str]) -> None:
    """Record that the job reads these datasets."""
    for dataset_id in dict.fromkeys(dataset_ids):
        session.add(JobDatasetRow(job_id=job_id, dataset_id=dataset_id))
