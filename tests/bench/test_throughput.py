"""bench.throughput and its anchor bench.plain_optuna, at tiny sizes so that they do not rot."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bench import population_step
from bench.common import BENCH_DATASETS
from bench.flop_floor import forward_macs, matmul_rate, search_macs
from bench.plain_optuna import mlp, prepared_data, run_plain
from bench.throughput import job_table, jobs_of, main, mode_names, parse_args
from workers.engine.datasets import SplitSource, prepare_dataset, resolve_reference
from workers.engine.networks import network_shape
from workers.engine.spec import Task


def test_the_plain_loop_trains_on_the_engine_s_split() -> None:
    # The engine's own preparation (as Search does it) gives the very same arrays.
    reference = resolve_reference("breast_cancer.csv.gz", [Path(BENCH_DATASETS)])
    engine = prepare_dataset(reference, ("target",), Task.BINARY, 0, SplitSource())
    plain = prepared_data("breast_cancer.csv.gz", "binary", 0)
    for ours, theirs in zip(
        (engine.train, engine.validation, engine.test),
        (plain.train, plain.validation, plain.test),
        strict=True,
    ):
        np.testing.assert_array_equal(ours.X, theirs.X)
        np.testing.assert_array_equal(ours.y_true, theirs.y_true)


def test_the_plain_mlp_has_the_engine_s_shape() -> None:
    shape = network_shape(36, 6)
    model = mlp(shape)
    assert sum(p.numel() for p in model.parameters()) == shape.n_parameters
    assert model(torch.zeros(4, 36)).shape == (4, 6)


def test_the_plain_loop_runs_a_tiny_search_and_counts_its_writes() -> None:
    result = run_plain("breast_cancer.csv.gz", "binary", "f1", trials=2, seed=0)
    assert sum(result["trial_counts"].values()) == 2
    assert len(result["epochs_trained"]) == 2
    assert min(result["epochs_trained"]) >= 1
    assert 0.5 < result["best_validation"] <= 1.0
    assert 0.5 < result["best_test"] <= 1.0
    # Every trial writes its state, parameters and reports: several commits each.
    assert result["statements"]["commits"] >= 2 * 4
    assert result["statements"]["writes"] >= 2 * 4  # a trial, its parameters, its reports


def test_the_flop_floor_counts_three_passes_per_training_row_and_one_per_evaluation() -> None:
    shape = network_shape(10, 1)  # 10 -> 32 -> 32 -> 1
    assert forward_macs(shape) == 10 * 32 + 32 * 32 + 32
    macs = search_macs(shape, n_train=100, n_validation=50, epochs=[4], eval_every=2)
    assert macs == 3 * forward_macs(shape) * 100 * 4 + forward_macs(shape) * 50 * 2
    rate = matmul_rate(shape, 32, 2, torch.device("cpu"), repetitions=1, steps=2)
    assert math.isfinite(rate)
    assert rate > 0


def test_jobs_and_modes_from_the_command_line() -> None:
    assert [j.name for j in jobs_of(parse_args([]))] == ["page_blocks0"]
    both = jobs_of(parse_args(["--jobs", "page_blocks0,satimage"]))
    assert [j.name for j in both] == ["page_blocks0", "satimage"]
    satimage = jobs_of(parse_args(["--jobs", "satimage"]))[0]
    assert (satimage.task, satimage.metric) == ("multiclass", "macro_f1")
    one = jobs_of(parse_args(["--dataset", "yeast4.csv.gz"]))
    assert [(j.dataset, j.task, j.metric) for j in one] == [("yeast4.csv.gz", "binary", "f1")]
    assert mode_names(parse_args(["--population", "8"])) == ["plain", "1", "8"]
    assert mode_names(parse_args(["--modes", "plain"])) == ["plain"]


def test_the_table_puts_the_modes_side_by_side() -> None:
    shapes = {
        "widths": [10, 32, 32, 1],
        "n_train": 100,
        "n_validation": 50,
        "eval_every": 1,
        "rate_one": 1e9,
        "rate_stacked": 2e9,
    }

    def result(mode: str, per_minute: float) -> dict[str, object]:
        return {
            "mode": mode,
            "search_seconds": 60 * 4 / per_minute,
            "trials_per_minute": per_minute,
            "epochs_trained": [10, 20, 30, 40],
            "statements": {"writes": 40, "commits": 20, "statements": 100},
            "finalize_seconds": None if mode == "plain" else 1.0,
            "peak_memory_mib": 100.0,
            "best_loss": "focal",
            "best_validation": 0.9,
            "best_test": 0.8,
        }

    text = job_table([result("plain", 10), result("1", 20), result("8", 80)], shapes, 4)
    lines = text.splitlines()
    assert len(lines) == 5
    plain, one, populations = (line.split(" | ") for line in lines[2:])
    assert plain[0] == "| plain Optuna + PyTorch"
    assert populations[0] == "| populations of 8"
    assert (one[4], one[5]) == ("1", "2")  # x one at a time, x plain
    assert (populations[4], populations[5]) == ("4", "8")
    assert populations[10] == "10"  # writes per trial


def test_the_benchmark_prints_a_table_for_a_tiny_job(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--dataset", "breast_cancer.csv.gz", "--trials", "2", "--population", "2"])
    printed = capsys.readouterr().out
    assert "| plain Optuna + PyTorch |" in printed
    assert "| one at a time |" in printed
    assert "| populations of 2 |" in printed


def test_the_population_step_benchmark_prints_its_tables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    population_step.main(["--members", "1,2", "--losses", "1,2", "--steps", "2"])
    printed = capsys.readouterr().out
    assert "| 2 | 2 |" in printed  # two members with two distinct losses
    assert "soft_f1" in printed  # a loss's marginal cost
