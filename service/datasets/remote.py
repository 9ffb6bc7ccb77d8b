"""Datasets named by URL (``s3://``, ``gs://``, ``az://``, ``https://``), read through fsspec.

At submission the API checks the URL against the configured sources, reads the object's
metadata (size, version or ETag) and a bounded sample (the header and the first rows), never the
whole object, and the job records the version it validated (a :class:`Pin`). The worker downloads
that version once into its cache (keyed by URL and version) and refuses an object that changed
since (when the store keeps no versions, by its ETag), so a result always names the bytes it
came from.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from service.datasets import memory
from service.datasets.profile import sample_suffix, suffix_of, write_sample
from service.datasets.references import FIELDS
from service.settings import Settings
from workers.engine.spec import JobSpec

SCHEMES = ("s3", "gs", "gcs", "az", "abfs", "https", "http")


class SourceRefused(Exception):
    """The URL is not one the service may read (scheme, bucket or host not allowed)."""

    field = "dataset"  # which of the spec's fields named it


class SourceError(Exception):
    """The object cannot be read: missing, unreadable, or the service lacks credentials.
    ``client_fault`` says whether the request is to blame (a 422) or the service (a 503)."""

    field = "dataset"

    def __init__(self, message: str, *, client_fault: bool = True) -> None:
        super().__init__(message)
        self.client_fault = client_fault


@dataclass(frozen=True)
class Pin:
    """The object a job validated: its URL, size, and version (or ETag) at that moment."""

    url: str
    size: int | None
    version_id: str | None
    etag: str | None

    @property
    def version(self) -> str | None:
        return self.version_id or self.etag

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def is_remote(reference: str) -> bool:
    scheme, sep, _ = reference.strip().partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def check_allowed(url: str, settings: Settings) -> None:
    """Raise :class:`SourceRefused` unless ``url`` starts with an allowed source prefix."""
    allowed = settings.dataset_sources
    if not allowed:
        raise SourceRefused(
            f"dataset URLs are not enabled on this service ({url.split('://')[0]}:// refused); "
            "an operator allows sources with LOSS_SEARCH_DATASET_SOURCES, or upload the file "
            "with POST /v1/datasets"
        )
    if not any(url.startswith(prefix) for prefix in allowed):
        raise SourceRefused(
            f"{_short(url)} is not under an allowed dataset source; allowed: " + ", ".join(allowed)
        )
    if suffix_of(url.split("?")[0]) is None:
        raise SourceRefused(
            f"{_short(url)} is not a supported file; name a .csv (or .csv.gz, .csv.bz2, "
            ".csv.xz), .parquet or .feather object"
        )


def pin(url: str, settings: Settings) -> Pin:
    """The object's metadata now; :class:`SourceError` if it is missing or unreadable."""
    fs = _fs(url, settings)
    info = _guarded(url, lambda: fs.info(url))
    if info.get("type") == "directory":
        raise SourceError(f"{_short(url)} is a folder, not a file")
    etag = info.get("ETag") or info.get("etag") or info.get("Last-Modified")
    version = info.get("VersionId") or info.get("version_id")
    return Pin(url, info.get("size"), str(version) if version else None, _clean(etag))


def sample(pinned: Pin, settings: Settings, into: Path) -> Path:
    """A local file with the object's header and first rows (see
    :func:`~service.datasets.profile.write_sample`), for checking the job before it is queued;
    the object is never read whole here."""
    url, suffix = pinned.url, suffix_of(pinned.url.split("?")[0])
    assert suffix is not None
    fs = _fs(url, settings)
    name = hashlib.sha256(url.encode()).hexdigest()[:16]
    target = into / f"sample-{name}{sample_suffix(suffix)}"

    def open_remote(**kwargs: Any) -> Any:
        return fs.open(url, "rb", **kwargs, **_version(pinned))

    _guarded(url, lambda: write_sample(open_remote, suffix, target))
    return target


def _needed(pinned: Pin, settings: Settings) -> int:
    """A worker's memory for the object: from a Parquet footer's rows and columns, else from
    its size."""
    suffix = suffix_of(pinned.url.split("?")[0]) or ".csv"
    if suffix in (".parquet", ".pq"):
        fs = _fs(pinned.url, settings)

        def footer() -> Any:
            with fs.open(pinned.url, "rb", **_version(pinned)) as remote:
                return pq.ParquetFile(remote).metadata

        metadata = _guarded(pinned.url, footer)
        return memory.estimate(metadata.num_rows, metadata.num_columns)
    return memory.estimate_csv(pinned.size or 0, suffix if suffix.startswith(".csv") else ".csv")


def download(pinned: Pin, settings: Settings) -> Path:
    """The pinned object as a local file in the cache (downloaded once per URL and version);
    :class:`SourceError` if the object changed since it was pinned."""
    suffix = suffix_of(pinned.url.split("?")[0]) or ""
    key = hashlib.sha256(f"{pinned.url}\n{pinned.version}".encode()).hexdigest()[:32]
    cache = settings.dataset_cache_dir / "remote"
    cached = cache / f"{key}{suffix}"
    if cached.exists():
        return cached
    fs = _fs(pinned.url, settings)
    if pinned.version_id is None:
        now = pin(pinned.url, settings)
        if pinned.etag and now.etag != pinned.etag:
            raise SourceError(
                f"{_short(pinned.url)} changed after the job was submitted (ETag {pinned.etag} "
                f"then, {now.etag} now) and its store keeps no versions; submit the job again"
            )
    cache.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=cache, suffix=".part")
    os.close(handle)
    try:
        _guarded(pinned.url, lambda: _copy(fs, pinned, Path(partial)))
        os.replace(partial, cached)
    finally:
        Path(partial).unlink(missing_ok=True)
    return cached


def _copy(fs: Any, pinned: Pin, target: Path) -> None:
    with fs.open(pinned.url, "rb", **_version(pinned)) as remote, target.open("wb") as local:
        while chunk := remote.read(1 << 20):
            local.write(chunk)


def _version(pinned: Pin) -> dict[str, Any]:
    return {"version_id": pinned.version_id} if pinned.version_id else {}


def _fs(url: str, settings: Settings) -> Any:
    options: dict[str, Any] = dict(settings.storage_options(url))
    if url.startswith("s3://"):
        options["version_aware"] = True
    # A fresh client each time: fsspec's instance cache would keep credentials and endpoints
    # from before a configuration change.
    options["skip_instance_cache"] = True
    try:
        fs, _ = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:  # s3fs, gcsfs, adlfs or aiohttp is not installed
        raise SourceError(
            f"this service cannot read {url.split('://')[0]}:// URLs: {exc} (install "
            "loss-search[cloud])",
            client_fault=False,
        ) from None
    return fs


def _guarded(url: str, action: Any) -> Any:
    """``action()``, with each way a read can fail turned into a :class:`SourceError`."""
    try:
        return action()
    except FileNotFoundError:
        raise SourceError(f"{_short(url)} does not exist") from None
    except PermissionError as exc:
        raise SourceError(f"the service may not read {_short(url)}: {exc}") from None
    except (pa.ArrowException, EOFError, ValueError, io.UnsupportedOperation) as exc:
        raise SourceError(f"{_short(url)} could not be read as a table: {exc}") from None
    except OSError as exc:
        raise SourceError(f"could not read {_short(url)}: {exc}", client_fault=False) from None
    except Exception as exc:  # botocore's NoCredentialsError and kin are not OSErrors
        if "credential" in type(exc).__name__.lower() or "credential" in str(exc).lower():
            raise SourceError(
                f"the service has no credentials to read {_short(url)}; an operator sets them "
                "in the service's environment",
                client_fault=False,
            ) from None
        raise


def _clean(etag: object) -> str | None:
    return str(etag).strip('"') if etag else None


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."


@dataclass(frozen=True)
class Sampled:
    """The spec with its URLs swapped for local samples, and the versions it validated."""

    spec: JobSpec
    pins: dict[str, Pin]


def sampled(spec: JobSpec, settings: Settings, into: Path) -> Sampled:
    """Check the spec's dataset URLs, pin their versions and sample them into ``into``.
    Raises :class:`SourceRefused` or :class:`SourceError` (with ``field`` set)."""
    pins: dict[str, Pin] = {}
    local: dict[str, str] = {}
    for name in FIELDS:
        url = getattr(spec, name)
        if not (isinstance(url, str) and is_remote(url)):
            continue
        try:
            check_allowed(url, settings)
            pins[name] = pin(url, settings)
            memory.check_fits(_needed(pins[name], settings), settings, url)
            local[name] = f"file://{sample(pins[name], settings, into)}"
        except (SourceRefused, SourceError, memory.TooBigForWorkers) as exc:
            exc.field = name
            raise
    return Sampled(spec.model_copy(update=local) if local else spec, pins)


def downloaded(spec: JobSpec, pins: dict[str, Any], settings: Settings) -> JobSpec:
    """The spec with its pinned URLs swapped for local copies of those versions."""
    local = {name: f"file://{download(Pin(**pinned), settings)}" for name, pinned in pins.items()}
    return spec.model_copy(update=local) if local else spec
