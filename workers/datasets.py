"""The job's data on the worker: uploaded datasets as local files, and the provenance the
result records (which file, which bytes).

An uploaded dataset (``dataset:<id>``) is read from the dataset store: the file itself for a
local store, else a copy downloaded once into this worker's cache.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from service.datasets import references, remote
from service.datasets.store import dataset_store
from service.db.models import JobRow
from service.db.session import session_scope
from service.settings import Settings
from workers.engine.datasets.references import FileReference, resolve_reference
from workers.engine.errors import DatasetError, EngineError
from workers.engine.results import DatasetSource, SearchResult
from workers.engine.spec import JobSpec


@dataclass(frozen=True)
class LocalData:
    """The spec the engine runs (local files), its data roots, and what its provenance needs."""

    spec: JobSpec
    data_roots: list[Path]
    reference: str  # the dataset as the job named it
    upload: DatasetSource | None  # an uploaded dataset's provenance, known from its row
    version: str | None  # a dataset URL's pinned version

    @functools.cached_property
    def source(self) -> DatasetSource:
        """Where the data came from. Computed on first use: for a file it takes a read of the
        whole file (its SHA-256), and only the finalizing shard and "auto" warm start need it."""
        if self.upload is not None:
            return self.upload
        if self.version is not None:
            local = _file_source(self.spec.dataset, self.data_roots)
            return local.model_copy(update={"reference": self.reference, "version": self.version})
        return _file_source(self.reference, self.data_roots)


def local_data(job_id: str, spec: JobSpec, settings: Settings) -> LocalData:
    """The job's data as the engine reads it here; :class:`EngineError` if it is gone, changed
    or unreadable."""
    store = dataset_store(settings)
    try:
        with session_scope(settings.resolved_database_url) as session:
            job = session.get(JobRow, job_id)
            pins = dict(job.dataset_pins or {}) if job is not None else {}
            resolved = references.resolve(spec, session, store)
            row = resolved.rows.get("dataset")
            upload = (
                DatasetSource(
                    reference=spec.dataset,
                    dataset_id=row.id,
                    fingerprint=row.fingerprint,
                    size_bytes=row.size_bytes,
                    rows=row.rows,
                    columns=len(row.columns),
                )
                if row is not None
                else None
            )
        local = remote.downloaded(resolved.spec, pins, settings)
    except references.UnknownDataset as exc:
        raise EngineError(f"{exc} (it was deleted after the job was submitted)") from None
    except remote.SourceError as exc:
        raise EngineError(str(exc)) from None
    except OSError as exc:  # the store could not be read
        raise EngineError(f"could not read the dataset from the store: {exc}") from None
    roots = [
        *settings.resolved_data_roots,
        *([resolved.root] if resolved.root else []),
        settings.dataset_cache_dir / "remote",
    ]
    version = remote.Pin(**pins["dataset"]).version if "dataset" in pins else None
    return LocalData(local, roots, spec.dataset, upload, version)


def _file_source(reference: str, roots: list[Path]) -> DatasetSource:
    """A builtin set's reference, or a data-root file's with its SHA-256 and size."""
    try:
        resolved = resolve_reference(reference, roots)
    except DatasetError:
        return DatasetSource(reference=reference)
    if not isinstance(resolved, FileReference):
        return DatasetSource(reference=reference)
    digest = hashlib.sha256()
    with resolved.path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return DatasetSource(
        reference=reference,
        fingerprint=digest.hexdigest(),
        size_bytes=resolved.path.stat().st_size,
    )


def with_source(result: SearchResult, source: DatasetSource) -> SearchResult:
    """``result`` with the data's provenance (its rows counted by the search when the source
    did not know them)."""
    dataset = result.dataset
    if source.rows is None:
        source = source.model_copy(
            update={"rows": dataset.rows + dataset.rows_dropped_missing_target}
        )
    return result.model_copy(update={"dataset": dataset.model_copy(update={"source": source})})
