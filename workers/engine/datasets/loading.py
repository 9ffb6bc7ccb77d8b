"""Reading a referenced dataset into a pandas DataFrame."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sklearn import datasets as sk_datasets

from workers.engine.datasets.references import BuiltinReference, DatasetReference, FileReference
from workers.engine.errors import DatasetError

_BUILTIN_LOADERS = {
    "breast_cancer": sk_datasets.load_breast_cancer,
    "digits": sk_datasets.load_digits,
    "wine": sk_datasets.load_wine,
    "iris": sk_datasets.load_iris,
    "diabetes": sk_datasets.load_diabetes,
}


def read_columns(reference: DatasetReference) -> list[str]:
    """The dataset's column names, read without loading the rows where the format allows."""
    if isinstance(reference, BuiltinReference):
        return list(read_frame(reference).columns)
    return list(_read_file(reference, columns=None, header_only=True).columns)


def read_frame(reference: DatasetReference, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The whole dataset, or only ``columns`` of it."""
    if isinstance(reference, BuiltinReference):
        bunch = _BUILTIN_LOADERS[reference.name](as_frame=True)
        frame: pd.DataFrame = bunch.frame
        return frame if columns is None else frame[list(columns)]
    return _read_file(reference, columns=columns, header_only=False)


def _read_file(
    reference: FileReference, *, columns: Sequence[str] | None, header_only: bool
) -> pd.DataFrame:
    path = reference.path
    try:
        if reference.is_parquet:
            if header_only:
                import pyarrow.parquet as pq

                names = pq.read_schema(path).names
                return pd.DataFrame(columns=names)
            return pd.read_parquet(path, columns=list(columns) if columns else None)
        return pd.read_csv(
            path,
            nrows=0 if header_only else None,
            usecols=list(columns) if columns else None,
        )
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        # pandas and pyarrow say what went wrong (bad delimiter, truncated gzip, ...).
        raise DatasetError(f"could not read dataset file {path.name!r}: {exc}") from exc
