"""Dataset references: ``builtin:<name>`` or a file under one of the configured data roots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from workers.engine.errors import DatasetError

BUILTIN_DATASETS = ("breast_cancer", "digits", "wine", "iris", "diabetes")
FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


@dataclass(frozen=True)
class BuiltinReference:
    """A dataset shipped with scikit-learn."""

    name: str


@dataclass(frozen=True)
class FileReference:
    """A CSV or Parquet file, already checked to lie inside a data root."""

    path: Path

    @property
    def is_parquet(self) -> bool:
        return self.path.suffix.lower() in (".parquet", ".pq")


DatasetReference = BuiltinReference | FileReference


def resolve_reference(reference: str, data_roots: list[Path]) -> DatasetReference:
    """Turn a user's reference into a loadable one, or raise :class:`DatasetError`.

    File references are either ``file:///absolute/path`` or a path relative to a data root
    (tried in order). The resolved path, with symlinks followed, must lie inside a root:
    ``..``, symlinks and absolute paths that lead elsewhere are refused.
    """
    reference = reference.strip()
    if reference.startswith("builtin:"):
        name = reference.removeprefix("builtin:")
        if name not in BUILTIN_DATASETS:
            raise DatasetError(
                f"unknown builtin dataset {name!r}; builtin datasets are: "
                + ", ".join(BUILTIN_DATASETS)
            )
        return BuiltinReference(name)
    if not reference:
        raise DatasetError("the dataset reference is empty")
    if "://" in reference and not reference.startswith("file://"):
        scheme = reference.split("://", 1)[0]
        raise DatasetError(
            f"dataset references with scheme {scheme!r} are not supported; use builtin:<name>, "
            "file:///path or a path relative to a data root"
        )
    return FileReference(_resolve_file(reference, data_roots))


def _resolve_file(reference: str, data_roots: list[Path]) -> Path:
    if not data_roots:
        raise DatasetError("no data roots are configured, so file datasets cannot be read")
    roots = [root.expanduser().resolve() for root in data_roots]
    if reference.startswith("file://"):
        parsed = urlparse(reference)
        if parsed.netloc not in ("", "localhost"):
            raise DatasetError("file:// references must name a local path (file:///path)")
        candidates = [Path(unquote(parsed.path))]
    else:
        raw = Path(reference).expanduser()
        candidates = [raw] if raw.is_absolute() else [root / raw for root in roots]

    if not reference.lower().endswith(FILE_SUFFIXES):
        raise DatasetError(
            f"unsupported file type for {reference!r}; supported: " + ", ".join(FILE_SUFFIXES)
        )
    for candidate in candidates:
        resolved = candidate.resolve()
        if not any(resolved.is_relative_to(root) for root in roots):
            raise DatasetError(
                f"{reference!r} resolves outside the configured data roots; "
                "only files under the data roots can be read"
            )
        if resolved.is_file():
            return resolved
    raise DatasetError(
        f"dataset file {reference!r} was not found under the data roots "
        f"({', '.join(str(r) for r in roots)})"
    )
