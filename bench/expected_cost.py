"""expected_cost on real data: the searched loss against the baseline, and the decision rules.

    python -m bench.expected_cost [--trials 16] [--seed 0] [--only spambase] [--losses a,b]

For each case (a dataset with an asymmetric cost matrix) it runs one search with the library
(the service's engine: Optuna, pruning, the decision tuned on validation, confirmation on fresh
seeds, paired bootstrap on test) and prints the baseline's and the returned setup's test
expected cost. Beside it, for reference models fitted on the same split (logistic regression,
HistGradientBoosting; ``bench.reference_models``) and for the search's own MLP trained on
cross-entropy (five seeds, learning rate 3e-3, epoch chosen on validation), the test cost of
three decision rules: the cost-blind arg-max (threshold 1/2), Bayes' rule on the raw
probabilities, and the rule tuned on validation that the service uses, which says whether tuning
earns its place.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.common import BENCH_DATASETS, machine, table
from bench.reference_models import REFERENCE_MODELS
from workers.engine import search_losses
from workers.engine.costs import bayes_threshold, cost_decisions, mean_cost
from workers.engine.datasets import PreparedData, prepare_dataset, resolve_reference
from workers.engine.evaluation import Evaluator
from workers.engine.metrics import get_metric
from workers.engine.population import MemberConfig
from workers.engine.spec import Task
from workers.engine.training import DeviceData, predict, train_population
from workers.engine.training_plan import plan_training

MLP_SEEDS = 5
MLP_LEARNING_RATE = 3e-3


def _satimage_costs() -> list[list[float]]:
    # Classes 1, 2, 3, 4, 5, 7: confusing the three grey soils (3, 4, 7) costs 1, other mistakes
    # 2, and missing the cotton crop (class 2) 10.
    costs = [[0.0 if i == j else 2.0 for j in range(6)] for i in range(6)]
    for i in (2, 3, 5):
        for j in (2, 3, 5):
            costs[i][j] = 0.0 if i == j else 1.0
    costs[1] = [0.0 if j == 1 else 10.0 for j in range(6)]
    return costs


@dataclass(frozen=True)
class Case:
    """A dataset and the cost matrix it is judged by."""

    name: str
    costs: list[list[float]]
    why: str


CASES = (
    # spam = 1: a legitimate mail lost to the spam folder costs five spams let through.
    Case("spambase", [[0.0, 5.0], [1.0, 0.0]], "false alarm 5, miss 1"),
    Case("satimage", _satimage_costs(), "missed cotton 10, grey soils 1, other 2"),
)


def search_row(case: Case, trials: int, seed: int, losses: Sequence[str]) -> list[object]:
    """One search: baseline and returned setup on test, with the verdict."""
    result = search_losses(
        Path(BENCH_DATASETS) / f"{case.name}.csv.gz",
        target="target",
        metric="expected_cost",
        metric_params={"costs": case.costs},
        n_trials=trials,
        seed=seed,
        losses=losses,
    )
    baseline = result.baseline
    lift = result.comparison.test_lift_interval
    return [
        case.name,
        case.why,
        f"{baseline.test:.4f}" if baseline and baseline.test is not None else "—",
        f"{result.best.test:.4f}" if result.best.test is not None else "—",
        result.best.loss,
        result.comparison.verdict.value,
        f"[{lift[0]:+.4f}, {lift[1]:+.4f}]" if lift else "—",
        result.comparison.leader.loss if result.comparison.leader else "—",
    ]


def decision_rows(case: Case, seed: int) -> list[list[object]]:
    """Reference models' test cost under the three decision rules."""
    data = prepare_dataset(
        resolve_reference(f"{case.name}.csv.gz", [Path(BENCH_DATASETS)]), ("target",), None, seed
    )
    params = {"costs": tuple(tuple(row) for row in case.costs)}
    evaluator = Evaluator(get_metric("expected_cost"), params, data)
    rows: list[list[object]] = []
    for model, fit in REFERENCE_MODELS.items():
        outputs = fit(data.train.X, data.train.y_true, data.task, seed)
        rows.append(
            [
                case.name,
                model,
                *_three_rules(evaluator, outputs(data.validation.X), outputs(data.test.X)),
            ]
        )
    mlp = np.mean([_three_rules(evaluator, *pair) for pair in _mlp_outputs(evaluator)], axis=0)
    rows.append([case.name, f"MLP, cross-entropy ({MLP_SEEDS} seeds)", *mlp.tolist()])
    return rows


def _three_rules(evaluator: Evaluator, validation: np.ndarray, test: np.ndarray) -> list[float]:
    """Test cost of the cost-blind rule, Bayes' rule and the rule tuned on validation."""
    data, costs = evaluator.data, evaluator.costs
    assert costs is not None
    blind, bayes = _fixed_rules(data, test, costs)
    tuned = evaluator.score_validation(validation)
    return [
        mean_cost(data.test.y_true, blind, costs),
        mean_cost(data.test.y_true, bayes, costs),
        evaluator.score_split(data.test, test, tuned.threshold),
    ]


def _mlp_outputs(evaluator: Evaluator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validation and test logits of the baseline MLP at its best epoch, one pair per seed."""
    data = evaluator.data
    device_data = DeviceData.create(data, torch.device("cpu"))
    members = [
        MemberConfig("cross_entropy", {}, MLP_LEARNING_RATE, seed=s) for s in range(MLP_SEEDS)
    ]
    plan = plan_training(len(data.train))
    results = train_population(members, device_data, evaluator, plan, keep_states=True)
    pairs = []
    for result in results:
        assert result.state is not None
        pairs.append(
            (
                predict(result.state, device_data.x_validation),
                predict(result.state, device_data.x_test),
            )
        )
    return pairs


def _fixed_rules(
    data: PreparedData, outputs: np.ndarray, costs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    if data.task is Task.BINARY:
        return (outputs >= 0).astype(int), (outputs >= bayes_threshold(costs)).astype(int)
    return outputs.argmax(axis=1), cost_decisions(outputs, costs, None)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--losses", default="", help="search only these losses (comma-separated)")
    args = parser.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    cases = [case for case in CASES if not only or case.name in only]
    losses = [name for name in args.losses.split(",") if name]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(machine(), f"— {args.trials} trials, seed {args.seed}\n")
    searched = [search_row(case, args.trials, args.seed, losses) for case in cases]
    headers = ["dataset", "costs", "baseline test", "returned test", "returned loss"]
    print(table([*headers, "verdict", "test lift 95%", "validation leader"], searched))
    print()
    decisions = [row for case in cases for row in decision_rows(case, args.seed)]
    headers = ["dataset", "reference model", "cost-blind", "Bayes plug-in", "tuned (ours)"]
    print(table(headers, decisions))


if __name__ == "__main__":
    main()
