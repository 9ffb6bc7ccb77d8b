"""Helpers shared by the benchmarks: machine description, peak memory, markdown tables."""

from __future__ import annotations

import os
import platform
import resource
from collections.abc import Sequence

import torch

BENCH_DATASETS = os.path.join(os.path.dirname(__file__), "datasets")


def machine() -> str:
    """One line describing where the benchmark ran."""
    cpu = platform.processor() or platform.machine()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{os.cpu_count()} CPU cores ({cpu}), {gpu}, torch {torch.__version__}, "
        f"Python {platform.python_version()}"
    )


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory_mib(device: torch.device) -> float:
    """Peak memory of this process on ``device``: CUDA's allocator peak, else peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1024**2
    return peak_rss_mib()


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table."""
    cells = [[_cell(v) for v in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
