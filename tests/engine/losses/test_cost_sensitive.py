"""The losses for a cost matrix against references written independently in numpy, and their
snippets against the library with a real (asymmetric) matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.engine.losses.harness import (
    N_CLASSES,
    assert_snippet_reproduces,
    build,
    context,
    random_batch,
)
from tests.engine.losses.test_snippets import run_snippet
from workers.engine.losses import get_loss
from workers.engine.losses.build import build_loss
from workers.engine.losses.snippets import render_snippet
from workers.engine.metrics import get_metric
from workers.engine.param_values import CostMatrix
from workers.engine.spec import Task

COSTS: dict[Task, CostMatrix] = {
    Task.BINARY: ((0.0, 1.0), (5.0, 0.5)),
    Task.MULTICLASS: ((0.0, 1.0, 4.0), (2.0, 0.0, 1.0), (10.0, 3.0, 0.5)),
}
COUNTS = {Task.BINARY: [40.0, 20.0], Task.MULTICLASS: [30.0, 20.0, 10.0]}
TASKS = [Task.BINARY, Task.MULTICLASS]


def probabilities(task: Task, logits: np.ndarray) -> np.ndarray:
    """(B, C) class probabilities from one member's logits, in float64."""
    if task is Task.BINARY:
        p = 1.0 / (1.0 + np.exp(-logits))
        return np.stack([1.0 - p, p], axis=-1)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    normalised: np.ndarray = shifted / shifted.sum(axis=-1, keepdims=True)
    return normalised


def reference_expected_cost(task: Task, logits: np.ndarray, y: np.ndarray) -> float:
    c = np.asarray(COSTS[task])
    p = probabilities(task, logits)
    total = 0.0
    for b in range(len(y)):
        total += sum(p[b, j] * c[int(y[b]), j] for j in range(c.shape[0]))
    return total / len(y)


def reference_weighted_ce(task: Task, logits: np.ndarray, y: np.ndarray, power: float) -> float:
    c = np.asarray(COSTS[task])
    n = c.shape[0]
    regret = np.array([np.mean([c[i, j] - c[i, i] for j in range(n) if j != i]) for i in range(n)])
    counts = np.asarray(COUNTS[task])
    raw = regret**power
    weights = raw / (np.sum(raw * counts) / np.sum(counts))
    p = probabilities(task, logits)
    ce = -np.log(p[np.arange(len(y)), y.astype(int)])
    return float(np.mean(weights[y.astype(int)] * ce))


@pytest.mark.parametrize("task", TASKS)
def test_soft_expected_cost_is_the_expected_cost_under_the_predicted_distribution(
    task: Task,
) -> None:
    loss = build(
        "soft_expected_cost", task, metric="expected_cost", metric_params={"costs": COSTS[task]}
    )
    outputs, targets = random_batch(task, n_members=3, batch=40, seed=7)
    values = loss(outputs, targets)
    for m in range(3):
        expected = reference_expected_cost(task, outputs[m].double().numpy(), targets[m].numpy())
        assert values[m].item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("task", TASKS)
def test_soft_expected_cost_at_confident_predictions_is_the_metric(task: Task) -> None:
    loss = build(
        "soft_expected_cost", task, metric="expected_cost", metric_params={"costs": COSTS[task]}
    )
    outputs, targets = random_batch(task, n_members=1, batch=60, seed=8)
    confident = outputs * 1000.0  # probabilities of exactly 0 and 1
    decisions = (
        (confident[0] > 0).long() if task is Task.BINARY else confident[0].argmax(dim=-1)
    ).numpy()
    metric = get_metric("expected_cost").score(
        targets[0].numpy(), decisions, {"costs": COSTS[task]}
    )
    assert loss(confident, targets)[0].item() == pytest.approx(metric, rel=1e-5)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_cost_weighted_ce_weighs_each_example_by_its_class_mistake_cost(
    task: Task, power: float
) -> None:
    loss = build(
        "cost_weighted_ce",
        task,
        {"power": [power, power]},
        class_counts=COUNTS[task],
        metric="expected_cost",
        metric_params={"costs": COSTS[task]},
    )
    outputs, targets = random_batch(task, n_members=2, batch=40, seed=9)
    values = loss(outputs, targets)
    for m in range(2):
        logits, y = outputs[m].double().numpy(), targets[m].numpy()
        assert values[m].item() == pytest.approx(
            reference_weighted_ce(task, logits, y, power), rel=1e-5
        )


def test_binary_cost_weights_are_elkans_ratio() -> None:
    # Elkan (2001), theorem 1: negatives weighted by c01 - c00 relative to positives' c10 - c11.
    loss = build(
        "cost_weighted_ce",
        Task.BINARY,
        {"power": [1.0]},
        class_counts=[1.0, 1.0],
        metric_params={"costs": ((0.0, 1.0), (5.0, 0.5))},
    )
    weights = loss.get_buffer("weights")[0]
    assert (weights[1] / weights[0]).item() == pytest.approx(4.5)


def test_without_a_cost_matrix_the_losses_fall_back_to_zero_one_costs() -> None:
    outputs, targets = random_batch(Task.MULTICLASS, n_members=1, batch=30, seed=10)
    soft = build("soft_expected_cost", Task.MULTICLASS, metric_params={})
    p_true = torch.softmax(outputs, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    assert soft(outputs, targets)[0].item() == pytest.approx((1 - p_true).mean().item(), rel=1e-6)
    weighted = build("cost_weighted_ce", Task.MULTICLASS, {"power": [1.0]}, metric_params={})
    plain = build("cross_entropy", Task.MULTICLASS)
    assert weighted(outputs, targets)[0].item() == pytest.approx(
        plain(outputs, targets)[0].item(), rel=1e-6
    )


@pytest.mark.parametrize("name", ["soft_expected_cost", "cost_weighted_ce"])
@pytest.mark.parametrize("task", TASKS)
def test_the_snippet_reproduces_the_loss_with_a_cost_matrix(name: str, task: Task) -> None:
    ctx = context(
        task,
        class_counts=COUNTS[task],
        metric="expected_cost",
        metric_params={"costs": COSTS[task]},
    )
    params = {"power": 0.7} if name == "cost_weighted_ce" else {}
    spec = get_loss(name)
    library = build_loss(spec, {k: torch.tensor([v]) for k, v in params.items()}, ctx)
    source = render_snippet(name, task, params, ctx, spec.reference)
    assert "metric_costs=((0.0, 1.0" in source
    snippet = run_snippet(source)
    outputs, targets = random_batch(task, n_members=1, batch=24, seed=11)
    assert_snippet_reproduces(library, snippet, outputs, targets)


def test_the_multiclass_batches_have_as_many_classes_as_the_matrix() -> None:
    assert len(COSTS[Task.MULTICLASS]) == N_CLASSES
