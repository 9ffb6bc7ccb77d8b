"""Datasets: upload a file once, then name it in jobs as ``dataset:<id>``.

A tenant sees, uses and deletes only its own datasets (an admin key lists every tenant's);
another tenant's dataset is a 404, as one that does not exist.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import fsspec
from fastapi import APIRouter, Depends, File, Response, UploadFile, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.api.auth import PrincipalDep, authenticate
from service.api.deps import DatabaseDep, SettingsDep
from service.api.params import Limit, Offset
from service.auth.principal import Principal
from service.datasets import memory
from service.datasets.profile import (
    Unreadable,
    profile_file,
    sample_suffix,
    suffix_of,
    write_sample,
)
from service.datasets.store import DatasetStore, Stored, TooLarge, dataset_store, sample_key
from service.db import datasets as repo
from service.db.models import DatasetRow
from service.errors import ApiError, invalid, not_found
from service.schemas import ErrorResponse, Page
from service.schemas.datasets import ColumnOut, DatasetOut
from service.settings import Settings

router = APIRouter(prefix="/v1/datasets", tags=["datasets"], dependencies=[Depends(authenticate)])
_ERRORS: dict[int | str, dict[str, object]] = {503: {"model": ErrorResponse}}


def get_store(settings: SettingsDep) -> DatasetStore:
    return dataset_store(settings)


StoreDep = Annotated[DatasetStore, Depends(get_store)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        **_ERRORS,
        200: {"model": DatasetOut, "description": "The same bytes were uploaded before."},
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    },
)
def upload_dataset(
    file: Annotated[
        UploadFile,
        File(
            description="A CSV (plain or .gz, .bz2, .xz), Parquet or "
            "Arrow/Feather file; its name's suffix says which."
        ),
    ],
    response: Response,
    principal: PrincipalDep,
    settings: SettingsDep,
    store: StoreDep,
    db: DatabaseDep,
) -> DatasetOut:
    """Store a file once and profile it: rows, columns with their types, missing values, and
    which tasks each could be the target of. The same bytes again return the dataset already
    made (200) rather than a copy. The file goes to the store in chunks as it arrives."""
    filename = file.filename or ""
    suffix = suffix_of(filename)
    if suffix is None:
        raise invalid(
            f"{filename!r} is not a supported file; name it *.csv (or .csv.gz, .csv.bz2, "
            ".csv.xz), *.parquet or *.feather",
            "file",
        )
    try:
        stored = store.put(file.file, suffix, settings.max_upload_bytes)
    except TooLarge as exc:
        raise ApiError(
            413,
            "request_too_large",
            f"the file is larger than {exc.limit} bytes, the most this service accepts "
            "(the LOSS_SEARCH_MAX_UPLOAD_BYTES setting)",
        ) from None
    with db.session() as session:
        existing = repo.find_by_fingerprint(
            session=session, tenant=principal.tenant, fingerprint=stored.sha256
        )
        if existing is not None:
            response.status_code = status.HTTP_200_OK
            return dataset_out(existing)
    return _new_dataset(filename, suffix, stored, principal, settings, store, db, response)


def _new_dataset(
    filename: str,
    suffix: str,
    stored: Stored,
    principal: Principal,
    settings: Settings,
    store: DatasetStore,
    db: DatabaseDep,
    response: Response,
) -> DatasetOut:
    local = store.local_path(stored.key)
    try:
        profile = profile_file(local, suffix)
        memory.check_fits(
            memory.estimate(profile.rows, len(profile.columns)), settings, repr(filename)
        )
        with tempfile.TemporaryDirectory() as folder:
            sample = Path(folder) / f"sample{sample_suffix(suffix)}"
            write_sample(lambda **kwargs: fsspec.open(str(local), "rb", **kwargs), suffix, sample)
            store.put_file(sample_key(stored.key), sample)
    except Unreadable as exc:
        _forget_file(store, db, stored.key)
        raise invalid(f"could not read {filename!r} as a table: {exc}", "file") from None
    except memory.TooBigForWorkers as exc:
        _forget_file(store, db, stored.key)
        raise ApiError(413, "dataset_too_large", str(exc)) from None
    try:
        with db.session() as session:
            row = repo.add_dataset(
                session=session,
                tenant=principal.tenant,
                filename=filename[:255],
                key=stored.key,
                fingerprint=stored.sha256,
                size_bytes=stored.size,
                format=profile.format,
                rows=profile.rows,
                columns=[vars(column) for column in profile.columns],
            )
            out = dataset_out(row)
    except IntegrityError:  # the same bytes, uploaded at the same moment: the other one's
        with db.session() as session:
            existing = repo.find_by_fingerprint(
                session=session, tenant=principal.tenant, fingerprint=stored.sha256
            )
            assert existing is not None
            response.status_code = status.HTTP_200_OK
            return dataset_out(existing)
    return out


def _forget_file(store: DatasetStore, db: DatabaseDep, key: str) -> None:
    """Remove a file nobody's dataset keeps (a refused upload leaves nothing behind)."""
    with db.session() as session:
        if not repo.file_in_use(session=session, key=key):
            store.delete(key)


@router.get("", responses=_ERRORS)
def list_datasets(
    principal: PrincipalDep, db: DatabaseDep, limit: Limit = 50, offset: Offset = 0
) -> Page[DatasetOut]:
    """Datasets, newest first: the caller's tenant's (every tenant's for an admin key)."""
    tenant = None if principal.is_admin else principal.tenant
    with db.session() as session:
        rows, total = repo.page(session=session, tenant=tenant, limit=limit, offset=offset)
        items = [dataset_out(row) for row in rows]
    return Page[DatasetOut](items=items, total=total, limit=limit, offset=offset)


@router.get("/{dataset_id}", responses={**_ERRORS, 404: {"model": ErrorResponse}})
def get_dataset(dataset_id: str, principal: PrincipalDep, db: DatabaseDep) -> DatasetOut:
    """One dataset: its file and its profile."""
    with db.session() as session:
        return dataset_out(_owned(session, dataset_id, principal))


@router.delete(
    "/{dataset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_ERRORS, 404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
)
def delete_dataset(
    dataset_id: str, principal: PrincipalDep, store: StoreDep, db: DatabaseDep
) -> Response:
    """Delete a dataset (and its file, unless another tenant's dataset has the same bytes);
    refused with 409 while a queued or running job reads it. Finished jobs keep their results."""
    with db.session() as session:
        row = _owned(session, dataset_id, principal)
        active = repo.active_jobs(session=session, dataset_id=dataset_id)
        if active:
            shown = ", ".join(active[:5])
            raise ApiError(
                409,
                "dataset_in_use",
                f"dataset {dataset_id} is read by {len(active)} queued or running job(s) "
                f"({shown}); cancel them or wait for them to end",
            )
        key, shared = row.key, repo.file_in_use(session=session, key=row.key, besides=row.id)
        session.delete(row)
        session.commit()
    if not shared:
        store.delete(key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _owned(session: Session, dataset_id: str, principal: Principal) -> DatasetRow:
    row = repo.get_dataset(session=session, dataset_id=dataset_id)
    if row is None or not principal.may_see(row.tenant):
        raise not_found("dataset", dataset_id)
    return row


def dataset_out(row: DatasetRow) -> DatasetOut:
    return DatasetOut(
        id=row.id,
        reference=f"dataset:{row.id}",
        filename=row.filename,
        fingerprint=row.fingerprint,
        size_bytes=row.size_bytes,
        format=row.format,  # csv | parquet | arrow
        rows=row.rows,
        columns=[ColumnOut.model_validate(column) for column in row.columns],
        created_at=row.created_at,
    )
