"""The throughput benchmark's job on a GPU: population training runs on CUDA end to end, and a
population step never waits for the device. Skipped where torch sees no CUDA device (CI never
depends on one); run it on a GPU machine with ``pytest -m cuda tests/bench``."""

from __future__ import annotations

import pytest
import torch

from bench.population_step import StepTimer
from bench.throughput import parse_args, run_mode

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


def test_the_benchmark_job_searches_in_populations_on_the_gpu() -> None:
    args = parse_args(
        [
            *("--dataset", "page_blocks0.csv.gz", "--task", "binary", "--metric", "f1"),
            *("--trials", "24", "--device", "cuda"),
        ]
    )
    result = run_mode(args, population=8)
    assert sum(result["trial_counts"].values()) == 24
    assert result["trial_counts"].get("complete", 0) >= 1
    assert 0.5 < result["best_validation"] <= 1.0
    assert result["peak_memory_mib"] > 0  # the device's own peak, as the table reports it


def test_a_population_step_never_synchronises_with_the_host() -> None:
    timer = StepTimer("page_blocks0.csv.gz", "binary", "f1", seed=0, device=torch.device("cuda"))
    losses = ["cross_entropy", "focal", "class_weighted_ce", "soft_f1", "mixed_soft_f1"] * 2
    timer.microseconds(losses, steps=2, repeats=1)  # warm-up: allocations, first launches
    torch.cuda.set_sync_debug_mode("error")
    try:
        timer.microseconds(losses, steps=5, repeats=1)
    finally:
        torch.cuda.set_sync_debug_mode("default")
