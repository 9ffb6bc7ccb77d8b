"""Population size: as many members as memory allows, up to the cap, and memory stays bounded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from workers.engine.networks import network_shape
from workers.engine.sizing import bytes_per_member, choose_population_size

CPU = torch.device("cpu")
REPO = Path(__file__).resolve().parents[2]


def test_the_cap_applies_when_memory_is_plentiful() -> None:
    shape = network_shape(20, 1)
    size = choose_population_size(shape, 128, 1000, CPU, cap=32, memory_bound=10 * 1024**3)
    assert size.members == 32
    assert size.reason == "cap"


def test_memory_limits_the_population_before_the_cap() -> None:
    shape = network_shape(64, 10)
    per_member = bytes_per_member(shape, 256, 2000)
    size = choose_population_size(shape, 256, 2000, CPU, cap=1000, memory_bound=5 * per_member)
    assert size.members == 5
    assert size.reason == "memory"


def test_a_population_never_drops_below_one_member() -> None:
    size = choose_population_size(network_shape(64, 10), 256, 2000, CPU, cap=8, memory_bound=1)
    assert size.members == 1


def test_bigger_models_and_batches_cost_more_per_member() -> None:
    small, wide = network_shape(10, 1), network_shape(100, 1)
    assert bytes_per_member(wide, 128, 500) > bytes_per_member(small, 128, 500)
    assert bytes_per_member(small, 512, 500) > bytes_per_member(small, 128, 500)


def test_training_a_population_sized_for_a_bound_stays_within_it() -> None:
    bound = 64 * 1024**2
    completed = subprocess.run(
        [sys.executable, "-m", "tests.engine.scripts.peak_memory", str(bound)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["members"] > 8  # the bound allows a real population, not a degenerate one
    assert report["added"] <= bound, report
