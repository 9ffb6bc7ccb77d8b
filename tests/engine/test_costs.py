"""The expected_cost metric: its cost matrix, its value, Bayes' rule and the tuned decisions.

References are written here with plain loops over rows and decisions, independently of
workers.engine.costs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit, softmax

from workers.engine import search_losses
from workers.engine.costs import (
    bayes_threshold,
    cost_decisions,
    parse_cost_matrix,
    tune_cost_offsets,
)
from workers.engine.datasets import prepare_dataset, resolve_reference
from workers.engine.errors import SpecError
from workers.engine.evaluation import Evaluator
from workers.engine.metrics import check_metric_fits, get_metric
from workers.engine.param_values import CostMatrix
from workers.engine.resampled_scores import resampled_scorer
from workers.engine.spec import MetricRef, Task
from workers.engine.thresholds import tune_population_thresholds, tune_threshold

BINARY_COSTS = ((0.0, 1.0), (5.0, 0.0))
MULTICLASS_COSTS = ((0.0, 1.0, 4.0), (2.0, 0.0, 1.0), (10.0, 3.0, 0.5))
METRIC = get_metric("expected_cost")


def brute_mean_cost(y: np.ndarray, decisions: np.ndarray, costs: object) -> float:
    c = np.asarray(costs)
    return sum(float(c[int(t), int(d)]) for t, d in zip(y, decisions, strict=True)) / len(y)


def brute_bayes(probabilities: np.ndarray, costs: object) -> np.ndarray:
    c = np.asarray(costs)
    n_classes = c.shape[0]
    out = []
    for p in probabilities:
        risks = [sum(p[i] * c[i, j] for i in range(n_classes)) for j in range(n_classes)]
        out.append(int(np.argmin(risks)))
    return np.array(out)


@pytest.mark.parametrize("costs", [BINARY_COSTS, MULTICLASS_COSTS])
def test_the_value_is_the_mean_cost_of_the_decisions(costs: tuple[tuple[float, ...], ...]) -> None:
    rng = np.random.default_rng(0)
    n_classes = len(costs)
    for _ in range(20):
        y = rng.integers(0, n_classes, 50)
        decisions = rng.integers(0, n_classes, 50)
        value = METRIC.score(y, decisions, {"costs": costs})
        assert value == pytest.approx(brute_mean_cost(y, decisions, costs), abs=1e-12)


def test_multiclass_decisions_without_offsets_are_bayes_rule() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(400, 3)) * 2.0
    costs = np.array(MULTICLASS_COSTS)
    expected = brute_bayes(softmax(logits, axis=1), costs)
    np.testing.assert_array_equal(cost_decisions(logits, costs, None), expected)
    np.testing.assert_array_equal(cost_decisions(logits, costs, (0.0, 0.0, 0.0)), expected)


@pytest.mark.parametrize(
    "costs",
    [BINARY_COSTS, ((0.0, 3.0), (1.0, 0.0)), ((1.0, 4.0), (6.0, 2.0)), ((0.0, 0.0), (1.0, 0.0))],
)
def test_the_binary_bayes_threshold_decides_like_the_argmin_of_expected_cost(
    costs: tuple[tuple[float, ...], ...],
) -> None:
    rng = np.random.default_rng(2)
    logits = rng.normal(size=2000) * 3.0
    p = expit(logits)
    expected = brute_bayes(np.stack([1 - p, p], axis=1), costs)
    decided = (logits >= bayes_threshold(np.array(costs))).astype(int)
    # Rows within rounding of the threshold may go either way.
    near = np.abs(logits - bayes_threshold(np.array(costs))) < 1e-9
    np.testing.assert_array_equal(decided[~near], expected[~near])


def test_with_a_zero_diagonal_the_bayes_threshold_is_c01_over_c01_plus_c10() -> None:
    threshold = bayes_threshold(np.array(BINARY_COSTS))
    assert expit(threshold) == pytest.approx(1.0 / (1.0 + 5.0))


def test_the_tuned_binary_threshold_has_the_least_validation_cost() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    scores = rng.normal(size=300) + 1.2 * y
    params = {"costs": BINARY_COSTS}
    tuned = tune_threshold(METRIC, params, y, scores)
    every = [
        brute_mean_cost(y, (scores >= cut).astype(int), BINARY_COSTS)
        for cut in [*np.unique(scores), np.inf]
    ]
    assert tuned.value == pytest.approx(min(every), abs=1e-12)
    assert tuned.value <= brute_mean_cost(
        y, (scores >= bayes_threshold(np.array(BINARY_COSTS))).astype(int), BINARY_COSTS
    )
    cutoffs, values = tune_population_thresholds(METRIC, params, y, np.stack([scores, -scores]))
    assert values[0] == pytest.approx(min(every), abs=1e-12)
    for cutoff, value, row in zip(cutoffs, values, (scores, -scores), strict=True):
        decided = (row >= cutoff).astype(int)
        assert value == pytest.approx(brute_mean_cost(y, decided, BINARY_COSTS), abs=1e-12)


def test_tuned_offsets_never_cost_more_than_bayes_and_correct_a_miscalibrated_model() -> None:
    rng = np.random.default_rng(4)
    costs = np.array(MULTICLASS_COSTS)
    y = rng.integers(0, 3, 600)
    truth = np.eye(3)[y]
    # An over-confident model whose logits also favour class 0 regardless of the truth.
    logits = 3.0 * (truth * 1.5 + rng.normal(size=(600, 3))) + np.array([2.0, 0.0, -2.0])
    offsets, value = tune_cost_offsets(costs, y, logits)
    bayes = brute_mean_cost(y, brute_bayes(softmax(logits, axis=1), costs), costs)
    assert value == pytest.approx(
        brute_mean_cost(y, cost_decisions(logits, costs, offsets), costs), abs=1e-9
    )
    assert value < bayes
    assert sum(offsets) == pytest.approx(0.0, abs=1e-9)


def test_offsets_stay_at_zero_when_nothing_improves() -> None:
    # Perfect, confident predictions: Bayes' rule already costs nothing.
    y = np.array([0, 1, 2, 0, 1, 2])
    logits = 20.0 * np.eye(3)[y]
    offsets, value = tune_cost_offsets(np.array(MULTICLASS_COSTS), y, logits)
    assert offsets == (0.0, 0.0, 0.0)
    assert value == pytest.approx(np.mean(np.array(MULTICLASS_COSTS)[y, y]))


@pytest.mark.parametrize(
    ("task", "costs"), [(Task.BINARY, BINARY_COSTS), (Task.MULTICLASS, MULTICLASS_COSTS)]
)
def test_the_resampled_path_equals_the_plain_metric(
    task: Task, costs: tuple[tuple[float, ...], ...]
) -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, len(costs), 120)
    decisions = rng.integers(0, len(costs), 120)
    params = {"costs": costs}
    fast = resampled_scorer(task, "expected_cost", params, y, decisions)
    assert fast is not None
    for _ in range(50):
        rows = rng.integers(0, 120, 120)
        plain = METRIC.score(y[rows], decisions[rows], params)
        assert fast(rows) == pytest.approx(plain, abs=1e-12)


def test_a_valid_matrix_is_resolved_to_floats_and_sized_by_the_classes() -> None:
    ref = MetricRef(name="expected_cost", params={"costs": [[0, 1], [5, 0]]})
    assert check_metric_fits(ref, Task.BINARY, 2) == {"costs": ((0.0, 1.0), (5.0, 0.0))}
    with pytest.raises(SpecError, match="is 2 x 2 but the target has 3 classes"):
        check_metric_fits(ref, Task.MULTICLASS, 3)


def test_costs_are_required() -> None:
    with pytest.raises(SpecError, match="needs the parameter 'costs'"):
        check_metric_fits(MetricRef(name="expected_cost"), Task.BINARY, 2)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ([[0, 1, 2], [1, 0, 2]], "must be square"),
        ([[0, 1], [1]], "must be square"),
        ([[0]], "must be square"),
        ([], "must be square"),
        ([0, 1], "list of rows"),
        ("0,1;1,0", "list of rows"),
        ([[0, -1], [1, 0]], "finite and non-negative"),
        ([[0, math.inf], [1, 0]], "finite and non-negative"),
        ([[0, math.nan], [1, 0]], "finite and non-negative"),
        ([[0, "1"], [1, 0]], "must be a number"),
        ([[0, True], [1, 0]], "must be a number"),
        ([[0, 0], [0, 0]], "every decision costs the same"),
        ([[2, 2], [3, 3]], "every decision costs the same"),
        ([[2, 1], [3, 0]], "must be the smallest cost in row 0"),
    ],
)
def test_bad_matrices_are_refused_with_the_reason(value: object, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        parse_cost_matrix(value, "costs")


@pytest.mark.parametrize(
    ("dataset", "costs"),
    [("builtin:breast_cancer", BINARY_COSTS), ("builtin:wine", MULTICLASS_COSTS)],
)
def test_a_search_for_expected_cost_runs_end_to_end(dataset: str, costs: CostMatrix) -> None:
    result = search_losses(
        dataset,
        target="target",
        metric="expected_cost",
        metric_params={"costs": costs},
        n_trials=3,
        population_size=3,
        losses=["cross_entropy", "soft_expected_cost", "cost_weighted_ce"],
    )
    assert result.metric.direction == "minimize"
    assert result.metric.params == {"costs": [list(row) for row in costs]}
    assert result.best.test is not None
    assert 0.0 <= result.best.test <= max(max(row) for row in costs)
    assert result.baseline is not None
    if len(costs) == 2:
        assert result.best.threshold is not None  # tuned on validation
    else:
        assert result.best.class_offsets is not None
        assert len(result.best.class_offsets) == len(costs)


def _noisy_logits(y: np.ndarray, n_classes: int, seed: int) -> np.ndarray:
    """Informative but mis-calibrated logits: biased towards class 0."""
    rng = np.random.default_rng(seed)
    logits = 1.5 * np.eye(n_classes)[y] + rng.normal(size=(len(y), n_classes))
    logits[:, 0] += 1.0
    binary: np.ndarray = logits[:, 1] - logits[:, 0]
    return logits if n_classes > 2 else binary


@pytest.mark.parametrize(
    ("dataset", "costs"),
    [("builtin:breast_cancer", BINARY_COSTS), ("builtin:wine", MULTICLASS_COSTS)],
)
def test_the_evaluator_tunes_the_decision_on_validation_and_applies_it_unchanged(
    dataset: str, costs: CostMatrix
) -> None:
    data = prepare_dataset(resolve_reference(dataset, []), ("target",), None, seed=0)
    evaluator = Evaluator(METRIC, {"costs": costs}, data)
    n_classes = len(costs)
    validation = _noisy_logits(data.validation.y_true.astype(int), n_classes, 1)
    test = _noisy_logits(data.test.y_true.astype(int), n_classes, 2)
    tuned = evaluator.score_validation(validation)
    assert tuned.threshold is not None
    c = np.asarray(costs)
    if n_classes == 2:
        decide_validation = (validation >= tuned.threshold).astype(int)
        decide_test = (test >= tuned.threshold).astype(int)
        bayes = (validation >= bayes_threshold(c)).astype(int)
    else:
        offsets = np.asarray(tuned.threshold)
        risks_validation = softmax(validation, axis=1) @ c - offsets
        risks_test = softmax(test, axis=1) @ c - offsets
        decide_validation = risks_validation.argmin(axis=1)
        decide_test = risks_test.argmin(axis=1)
        bayes = brute_bayes(softmax(validation, axis=1), c)
    y_validation, y_test = data.validation.y_true, data.test.y_true
    assert tuned.value == pytest.approx(brute_mean_cost(y_validation, decide_validation, c))
    assert tuned.value <= brute_mean_cost(y_validation, bayes, c) + 1e-12
    on_test = evaluator.score_split(data.test, test, tuned.threshold)
    assert on_test == pytest.approx(brute_mean_cost(y_test, decide_test, c))
    # Deterministic: the same validation outputs give the same decision rule.
    assert evaluator.score_validation(validation).threshold == tuned.threshold
    # Deciding one class everywhere is an answer under costs, not a degenerate model.
    assert not evaluator.single_class(validation, tuned.threshold)
