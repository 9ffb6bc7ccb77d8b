"""Dataset references: ``builtin:<name>``, a file under one of the configured data roots, or
(from Python only) a DataFrame the caller holds."""

from __future__ import annotations

import errno
import reprlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd

from workers.engine.errors import DatasetError
from workers.engine.spec_fields import find_control_character

BUILTIN_DATASETS = ("breast_cancer", "digits", "wine", "iris", "diabetes")
FILE_SUFFIXES = (
    ".csv",
    ".csv.gz",
    ".csv.bz2",
    ".csv.xz",
    ".parquet",
    ".pq",
    ".feather",
    ".arrow",
)

# No file system takes these in a name, and the OS refuses a NUL byte with a ValueError.
# References echoed in messages are shortened: a 4,096-character path helps nobody.
_SHORT = reprlib.Repr()
_SHORT.maxstring = 80


@dataclass(frozen=True)
class BuiltinReference:
    """A dataset shipped with scikit-learn."""

    name: str


@dataclass(frozen=True)
class FileReference:
    """A CSV, Parquet or Arrow/Feather file, already checked to lie inside a data root."""

    path: Path

    @property
    def is_parquet(self) -> bool:
        return self.path.suffix.lower() in (".parquet", ".pq")

    @property
    def is_arrow(self) -> bool:
        """Arrow IPC (Feather v2)."""
        return self.path.suffix.lower() in (".feather", ".arrow")


@dataclass(frozen=True, eq=False)
class FrameReference:
    """A pandas DataFrame handed over in Python (a notebook's data); ``label`` names it in the
    result, where a file's reference would be."""

    frame: pd.DataFrame
    label: str = "in-memory"


DatasetReference = BuiltinReference | FileReference | FrameReference


def resolve_reference(reference: str, data_roots: list[Path]) -> DatasetReference:
    """Turn a user's reference into a loadable one, or raise :class:`DatasetError`.

    File references are either ``file:///absolute/path`` or a path relative to a data root
    (tried in order). The resolved path, with symlinks followed, must lie inside a root:
    ``..``, symlinks and absolute paths that lead elsewhere are refused, and so are control
    characters, symlink loops and paths the file system cannot take (names too long).
    """
    reference = reference.strip()
    check_plain_text(reference)
    if reference.startswith("builtin:"):
        name = reference.removeprefix("builtin:")
        if name not in BUILTIN_DATASETS:
            raise DatasetError(
                f"unknown builtin dataset {shorten(name)}; builtin datasets are: "
                + ", ".join(BUILTIN_DATASETS)
            )
        return BuiltinReference(name)
    if not reference:
        raise DatasetError("the dataset reference is empty")
    if "://" in reference and not reference.startswith("file://"):
        scheme = reference.split("://", 1)[0]
        raise DatasetError(
            f"dataset references with scheme {shorten(scheme)} are not supported; use "
            "builtin:<name>, file:///path or a path relative to a data root"
        )
    return FileReference(_resolve_file(reference, data_roots))


def shorten(text: str) -> str:
    """``text`` quoted for a message, cut to a readable length."""
    return _SHORT.repr(text)


def check_plain_text(reference: str) -> None:
    """Refuse control characters (a NUL byte above all): no file name can hold them."""
    found = find_control_character(reference)
    if found is not None:
        raise DatasetError(
            f"the dataset reference contains {found}; file names cannot contain control characters"
        )


def _resolve_file(reference: str, data_roots: list[Path]) -> Path:
    if not data_roots:
        raise DatasetError("no data roots are configured, so file datasets cannot be read")
    if not reference.lower().endswith(FILE_SUFFIXES):
        raise DatasetError(
            f"unsupported file type for {shorten(reference)}; supported: "
            + ", ".join(FILE_SUFFIXES)
        )
    roots = [root.expanduser().resolve() for root in data_roots]
    for candidate in _candidates(reference, roots):
        resolved = _resolve_path(reference, candidate)
        if not any(resolved.is_relative_to(root) for root in roots):
            raise DatasetError(
                f"{shorten(reference)} resolves outside the configured data roots; "
                "only files under the data roots can be read"
            )
        if _is_file(reference, resolved):
            return resolved
    raise DatasetError(
        f"dataset file {shorten(reference)} was not found under the data roots "
        f"({', '.join(str(r) for r in roots)})"
    )


def _candidates(reference: str, roots: list[Path]) -> list[Path]:
    """Where ``reference`` may point: one absolute path, or the same relative path in each root."""
    if reference.startswith("file://"):
        try:
            parsed = urlparse(reference)
        except ValueError as exc:  # e.g. an unclosed IPv6 bracket in the host part
            raise DatasetError(f"{shorten(reference)} is not a valid file URL: {exc}") from None
        if parsed.netloc not in ("", "localhost"):
            raise DatasetError("file:// references must name a local path (file:///path)")
        path = unquote(parsed.path)
        check_plain_text(path)  # %00 decodes to a NUL byte
        return [Path(path)]
    try:
        raw = Path(reference).expanduser()
    except RuntimeError:  # ~someone, and no such user
        raise DatasetError(
            f"{shorten(reference)} starts with a home directory that does not exist"
        ) from None
    return [raw] if raw.is_absolute() else [root / raw for root in roots]


def _resolve_path(reference: str, candidate: Path) -> Path:
    """``candidate`` with symlinks followed; a loop or an impossible path is the user's to fix."""
    try:
        return candidate.resolve()
    except RuntimeError:  # how Path.resolve reports a symlink loop before Python 3.13
        raise _loop(reference) from None
    except OSError as exc:
        raise _os_error(reference, exc) from None


def _is_file(reference: str, path: Path) -> bool:
    try:
        return path.is_file()
    except OSError as exc:  # a name too long, a permission denied, ...
        raise _os_error(reference, exc) from None


def _loop(reference: str) -> DatasetError:
    return DatasetError(
        f"{shorten(reference)} is a symbolic link loop: following its links never reaches a file"
    )


def _os_error(reference: str, exc: OSError) -> DatasetError:
    if exc.errno == errno.ELOOP:
        return _loop(reference)
    if exc.errno == errno.ENAMETOOLONG:
        return DatasetError(
            f"the dataset path {shorten(reference)} ({len(reference)} characters) is too long "
            "for the file system: it allows 255 bytes per file name and 4,096 per path"
        )
    return DatasetError(f"dataset file {shorten(reference)} cannot be opened: {exc.strerror}")
