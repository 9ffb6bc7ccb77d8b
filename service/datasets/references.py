"""A job's ``dataset:<id>`` references: checked against the tenant's datasets, and turned into
the local files the engine reads.

The job's spec keeps ``dataset:<id>`` (what the user asked for); the API and the worker each
swap in a ``file://`` path to their local copy only for the engine's use, and add the folder
it lies in to the engine's data roots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from service.datasets.store import DatasetStore, sample_key
from service.db import datasets as repo
from service.db.models import DatasetRow
from workers.engine.spec import JobSpec

PREFIX = "dataset:"
FIELDS = ("dataset", "test_dataset")


class UnknownDataset(Exception):
    """A ``dataset:<id>`` that names no dataset the tenant may read."""

    def __init__(self, field_name: str, dataset_id: str) -> None:
        super().__init__(
            f"no dataset with id {dataset_id!r} (upload one with POST /v1/datasets; "
            "GET /v1/datasets lists yours)"
        )
        self.field = field_name


@dataclass
class Resolved:
    """The spec as the engine should read it, the datasets it names, and the extra data root."""

    spec: JobSpec
    rows: dict[str, DatasetRow] = field(default_factory=dict)  # by spec field
    root: Path | None = None

    @property
    def dataset_ids(self) -> list[str]:
        return [row.id for row in self.rows.values()]


def uploaded_ids(spec: JobSpec) -> dict[str, str]:
    """The spec's fields that name an uploaded dataset, with the id each names."""
    found: dict[str, str] = {}
    for name in FIELDS:
        value = getattr(spec, name)
        if isinstance(value, str) and value.strip().startswith(PREFIX):
            found[name] = value.strip().removeprefix(PREFIX)
    return found


def resolve(
    spec: JobSpec,
    session: Session,
    store: DatasetStore,
    may_read: Callable[[DatasetRow], bool] = lambda _: True,
    *,
    samples: bool = False,
) -> Resolved:
    """``spec`` with its ``dataset:<id>`` references swapped for local files (their samples,
    made at upload, with ``samples``: what a submission checks); raises
    :class:`UnknownDataset` for an id that is missing or not ``may_read``."""
    ids = uploaded_ids(spec)
    if not ids:
        return Resolved(spec)
    rows: dict[str, DatasetRow] = {}
    for name, dataset_id in ids.items():
        row = repo.get_dataset(session=session, dataset_id=dataset_id)
        if row is None or not may_read(row):
            raise UnknownDataset(name, dataset_id)
        rows[name] = row
    local = {
        name: f"file://{store.local_path(sample_key(row.key) if samples else row.key)}"
        for name, row in rows.items()
    }
    return Resolved(spec.model_copy(update=local), rows, store.local_root())


def restore(planned: JobSpec, original: JobSpec) -> JobSpec:
    """The planned spec with the user's references (``dataset:<id>``, URLs) put back in place
    of the local files the engine was given."""
    back = {name: getattr(original, name) for name in FIELDS if getattr(original, name)}
    return planned.model_copy(update=back)
