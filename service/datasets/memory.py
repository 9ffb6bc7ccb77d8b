"""Whether a dataset fits a worker's memory, estimated before any work is queued.

A worker holds the table as read (pandas, 8 bytes a value), its encoded features and the
training tensors: about three copies of rows x columns x 8 bytes. A dataset estimated above
``worker_memory_bytes`` is refused up front, naming the limit, rather than by an out-of-memory
kill halfway through a job.
"""

from __future__ import annotations

from service.settings import Settings

COPIES = 3
BYTES_PER_VALUE = 8
# A CSV holds about as many bytes of text as its values take in memory as 8-byte numbers; a
# compressed one expands about fourfold first.
CSV_EXPANSION = {".csv": 1, ".csv.gz": 4, ".csv.bz2": 4, ".csv.xz": 4}


class TooBigForWorkers(Exception):
    """The dataset would not fit a worker's memory; the message names the limit."""

    field = "dataset"  # which of a job's fields named it


def estimate(rows: int, columns: int) -> int:
    """Bytes a worker needs for a table of ``rows`` x ``columns``."""
    return rows * columns * BYTES_PER_VALUE * COPIES


def estimate_csv(size_bytes: int, suffix: str) -> int:
    """Bytes a worker needs for a CSV file of ``size_bytes`` (rows unknown: from its size)."""
    return size_bytes * CSV_EXPANSION.get(suffix, 1) * COPIES


def check_fits(needed: int, settings: Settings, what: str) -> None:
    """Raise :class:`TooBigForWorkers` if ``needed`` bytes exceed the workers' memory limit."""
    limit = settings.worker_memory_bytes
    if needed > limit:
        raise TooBigForWorkers(
            f"{what} would need about {_gib(needed)} of a worker's memory (rows x columns x 8 "
            f"bytes, three copies), more than the {_gib(limit)} a worker gives one job "
            "(LOSS_SEARCH_WORKER_MEMORY_BYTES); sample it down, or ask an operator for larger "
            "workers"
        )


def _gib(size: int) -> str:
    return f"{size / (1 << 30):.1f} GiB" if size >= 1 << 30 else f"{size / (1 << 20):.0f} MiB"
