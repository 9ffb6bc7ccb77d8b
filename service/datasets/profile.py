"""What an uploaded file holds, read in bounded batches (never the whole file in memory):
its format, rows, and for each column its type, missing values, and which tasks it could be the
target of.

The types are those a person names a column by: ``numeric``, ``boolean``, ``categorical``
(text with few distinct values), ``text`` and ``datetime``. The tasks follow the engine's own
rules for a target (``workers.engine.datasets.inspection``): at least ``MIN_ROWS`` labelled
rows, two to ``MAX_CLASSES`` classes for classification, numbers for regression.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from workers.engine.datasets.inspection import MAX_CLASSES, MAX_INFERRED_CLASSES, MIN_ROWS

# pyarrow's CSV reader keeps dozens of blocks in flight: 8 MiB blocks held ~325 MiB while
# profiling 1 GB, 1 MiB blocks 40 MiB, in the same time (docs/performance.md).
BLOCK_BYTES = 1 << 20
SAMPLE_BYTES = 4 << 20
FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".csv.bz2": "csv",
    ".csv.xz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "arrow",
    ".arrow": "arrow",
}


class Unreadable(Exception):
    """The file is not a table this service reads; the message says what went wrong."""


def suffix_of(filename: str) -> str | None:
    """The file's format suffix (``.csv.gz``, ``.parquet``, ...), or None if not supported."""
    lowered = filename.lower()
    return next((s for s in sorted(FORMATS, key=len, reverse=True) if lowered.endswith(s)), None)


@dataclass
class ColumnProfile:
    """One column: its type, missing values, and the tasks it could be the target of."""

    name: str
    type: str
    missing: int
    distinct: int | None  # None: more than MAX_CLASSES (not counted further)
    target_for: list[str] = field(default_factory=list)


@dataclass
class Profile:
    format: str
    rows: int
    columns: list[ColumnProfile]


class _Column:
    """Running statistics of a column over the batches."""

    def __init__(self, name: str, arrow_type: pa.DataType) -> None:
        self.name, self.arrow_type = name, arrow_type
        self.missing = 0
        self.values: set[object] | None = set()
        self.integral = True

    def add(self, array: pa.Array | pa.ChunkedArray) -> None:
        self.missing += array.null_count
        if pa.types.is_floating(self.arrow_type) and self.integral:
            valid = pc.drop_null(array)
            self.integral = bool(
                len(valid) == 0 or pc.all(pc.equal(pc.floor(valid), valid)).as_py()
            )
        if self.values is not None:
            self.values.update(v for v in pc.unique(pc.drop_null(array)).to_pylist())
            if len(self.values) > MAX_CLASSES:
                self.values = None

    def profile(self, rows: int) -> ColumnProfile:
        distinct = None if self.values is None else len(self.values)
        kind = _kind(self.arrow_type, distinct)
        return ColumnProfile(
            self.name, kind, self.missing, distinct, self._tasks(kind, rows, distinct)
        )

    def _tasks(self, kind: str, rows: int, distinct: int | None) -> list[str]:
        if rows - self.missing < MIN_ROWS or distinct == 1:
            return []
        two = distinct == 2
        zero_one = (
            two and self.values is not None and self.values <= {0, 1}
        )  # 0.0, 1.0, False, True compare equal
        if kind == "boolean" or zero_one:
            return ["binary", "multilabel"] + (["regression"] if kind == "numeric" else [])
        if kind == "categorical":
            return ["binary"] if two else (["multiclass"] if distinct and distinct > 2 else [])
        if kind != "numeric":
            return []
        tasks = []
        if two:
            tasks.append("binary")
        elif distinct is not None and 2 < distinct <= MAX_INFERRED_CLASSES and self.integral:
            tasks.append("multiclass")
        return [*tasks, "regression"]


def _kind(arrow_type: pa.DataType, distinct: int | None) -> str:
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "numeric"
    if pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_temporal(arrow_type):
        return "datetime"
    if distinct is not None:
        return "categorical"
    return "text"


def profile_file(path: Path, suffix: str) -> Profile:
    """Read ``path`` (of the format ``suffix`` names) batch by batch; :class:`Unreadable` if it
    is not a table."""
    kind = FORMATS[suffix]
    try:
        schema, batches = _open(path, kind)
        columns = [_Column(f.name, f.type) for f in schema]
        _check_names(schema.names)
        rows = 0
        for batch in batches:
            rows += batch.num_rows
            for column, array in zip(columns, batch.columns, strict=True):
                column.add(array)
    except (pa.ArrowException, OSError, EOFError, ValueError) as exc:
        raise Unreadable(_plain(exc)) from None
    if not columns:
        raise Unreadable("the file has no columns")
    return Profile(kind, rows, [column.profile(rows) for column in columns])


def _open(path: Path, kind: str) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    if kind == "parquet":
        parquet = pq.ParquetFile(path)
        return parquet.schema_arrow, parquet.iter_batches(batch_size=65_536)
    if kind == "arrow":
        reader = pa.ipc.open_file(pa.memory_map(str(path)))
        return reader.schema, (reader.get_batch(i) for i in range(reader.num_record_batches))
    stream = pa.input_stream(str(path), compression="detect")
    csv_reader = pa_csv.open_csv(stream, read_options=pa_csv.ReadOptions(block_size=BLOCK_BYTES))
    return csv_reader.schema, iter(csv_reader)


def write_sample(
    open_file: Callable[..., AbstractContextManager[BinaryIO]], suffix: str, target: Path
) -> None:
    """Write the header and first rows of a table to ``target``: at most ``SAMPLE_BYTES`` of a
    CSV (decompressed, cut at a line end), the first row group of a Parquet file, the first
    batch of an Arrow file. ``open_file(**kwargs)`` opens the source for binary reading."""
    if suffix in (".parquet", ".pq"):
        with open_file() as source:
            parquet = pq.ParquetFile(source)
            first = (
                parquet.read_row_group(0)
                if parquet.num_row_groups
                else parquet.schema_arrow.empty_table()
            )
            pq.write_table(first, target)
    elif suffix in (".feather", ".arrow"):
        with open_file() as source:
            reader = pa.ipc.open_file(source)  # reads the footer, then one batch
            batches = [reader.get_batch(0)] if reader.num_record_batches else []
            table = pa.Table.from_batches(batches, schema=reader.schema)
            with pa.ipc.new_file(str(target), table.schema) as writer:
                writer.write_table(table)
    else:
        compression = None if suffix == ".csv" else "infer"
        with open_file(compression=compression) as source:
            head = source.read(SAMPLE_BYTES)
        if len(head) == SAMPLE_BYTES:  # cut at the last full line
            head = head[: head.rfind(b"\n") + 1]
        target.write_bytes(head)


def sample_suffix(suffix: str) -> str:
    """A sample of a compressed CSV is plain CSV."""
    return ".csv" if suffix.startswith(".csv") else suffix


def _check_names(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen and name != "":
            raise Unreadable(
                f"the column name {name!r} appears more than once; every column needs its own name"
            )
        seen.add(name)


def _plain(exc: BaseException) -> str:
    message = str(exc).strip() or type(exc).__name__
    if isinstance(exc, EOFError) or "truncated" in message.lower():
        return f"the file is truncated: {message}"
    return message
