"""Reading a referenced dataset into a pandas DataFrame."""

from __future__ import annotations

import csv
import functools
import zlib
from collections import Counter
from collections.abc import Callable, Sequence

import pandas as pd
import pyarrow as pa
from sklearn import datasets as sk_datasets

from workers.engine.datasets.references import (
    BuiltinReference,
    DatasetReference,
    FileReference,
    FrameReference,
    shorten,
)
from workers.engine.errors import DatasetError

_BUILTIN_LOADERS = {
    "breast_cancer": sk_datasets.load_breast_cancer,
    "digits": sk_datasets.load_digits,
    "wine": sk_datasets.load_wine,
    "iris": sk_datasets.load_iris,
    "diabetes": sk_datasets.load_diabetes,
}

# What pandas, pyarrow and the decompressors raise for a file that is not a readable table: a
# bad delimiter, bytes that are not text, a truncated gzip stream (EOFError), a corrupt one
# (zlib.error), a Parquet footer that is not there or a column type pyarrow cannot convert.
_UNREADABLE = (
    ValueError,
    OSError,
    EOFError,
    zlib.error,
    csv.Error,
    pd.errors.ParserError,
    pa.ArrowException,
)


def read_columns(reference: DatasetReference) -> list[str]:
    """The dataset's column names, read without loading the rows where the format allows.

    Raises :class:`DatasetError` when two columns share a name: pandas would rename the second
    (``target`` becomes ``target.1``) and a copy of the target would quietly become a feature.
    """
    if isinstance(reference, BuiltinReference):
        return list(read_frame(reference).columns)
    if isinstance(reference, FrameReference):
        return list(_named_columns(reference).columns)
    _check_unique(reference, _raw_header(reference))
    return list(_read_file(reference, columns=None, header_only=True).columns)


def read_frame(reference: DatasetReference, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The whole dataset, or only ``columns`` of it."""
    if isinstance(reference, BuiltinReference):
        frame = _builtin_frame(reference.name)
        return frame.copy() if columns is None else frame[list(columns)].copy()
    if isinstance(reference, FrameReference):
        frame = _named_columns(reference)
        return frame.copy() if columns is None else frame[list(columns)].copy()
    if columns is None:
        # The whole table is about to become features: refuse duplicated names first.
        _check_unique(reference, _raw_header(reference))
    return _read_file(reference, columns=columns, header_only=False)


@functools.cache
def _builtin_frame(name: str) -> pd.DataFrame:
    """A built-in dataset, parsed once per process (they never change; callers get copies)."""
    frame: pd.DataFrame = _BUILTIN_LOADERS[name](as_frame=True).frame
    return frame


def _named_columns(reference: FrameReference) -> pd.DataFrame:
    """The caller's frame with its column names as text (as a file's would be), its own
    index dropped; refused if two columns share a name."""
    header = [str(name) for name in reference.frame.columns]
    _check_unique(reference, header)
    return reference.frame.set_axis(header, axis=1).reset_index(drop=True)


def _raw_header(reference: FileReference) -> list[str]:
    """The header as written in the file, before pandas makes the names unique."""
    if reference.is_parquet or reference.is_arrow:
        return list(_read_file(reference, columns=None, header_only=True).columns)
    first = _guarded(
        reference,
        lambda: pd.read_csv(reference.path, header=None, nrows=1, dtype=str, keep_default_na=False),
    )
    return [str(name) for name in first.iloc[0]] if len(first) else []


def _check_unique(reference: FileReference | FrameReference, header: list[str]) -> None:
    # Empty header cells are not names: pandas calls each "Unnamed: <position>".
    repeated = {name: n for name, n in Counter(header).items() if n > 1 and name != ""}
    if repeated:
        shown = ", ".join(f"{name!r} ({n} times)" for name, n in list(repeated.items())[:5])
        named = (
            f"dataset file {shorten(reference.path.name)}"
            if isinstance(reference, FileReference)
            else f"DataFrame {shorten(reference.label)}"
        )
        raise DatasetError(
            f"{named} has duplicate column names: {shown}; every column needs its own name (a "
            "second copy of the target would leak into the features)"
        )


def _read_file(
    reference: FileReference, *, columns: Sequence[str] | None, header_only: bool
) -> pd.DataFrame:
    path = reference.path
    wanted = list(columns) if columns else None
    if reference.is_parquet:
        if header_only:
            import pyarrow.parquet as pq

            return _guarded(reference, lambda: pd.DataFrame(columns=pq.read_schema(path).names))
        return _guarded(reference, lambda: pd.read_parquet(path, columns=wanted))
    if reference.is_arrow:
        if header_only:
            return _guarded(
                reference, lambda: pd.DataFrame(columns=pa.ipc.open_file(path).schema.names)
            )
        return _guarded(reference, lambda: pd.read_feather(path, columns=wanted))
    nrows = 0 if header_only else None
    return _guarded(reference, lambda: pd.read_csv(path, nrows=nrows, usecols=wanted))


def _guarded(reference: FileReference, read: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``read()``, with any way a file can be unreadable turned into a :class:`DatasetError`."""
    try:
        return read()
    except _UNREADABLE as exc:
        # pandas and pyarrow say what went wrong (bad delimiter, bytes that are not text, ...);
        # a truncated compressed file only says that its stream ended, so say it plainly.
        truncated = "the file is truncated: " if isinstance(exc, EOFError) else ""
        raise DatasetError(
            f"could not read dataset file {shorten(reference.path.name)}: {truncated}{exc}"
        ) from exc
