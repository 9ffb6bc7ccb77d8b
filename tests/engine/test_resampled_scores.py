"""The bootstrap's fast metric path agrees with the plain metric (scikit-learn's, or the
calibration error's own) on every subset it is given."""

from __future__ import annotations

import numpy as np
import pytest

from workers.engine.metrics import get_metric
from workers.engine.resampled_scores import resampled_scorer
from workers.engine.spec import Task

# scikit-learn warns on subsets holding one class; that is the case under test.
pytestmark = [
    pytest.mark.filterwarnings("ignore:A single label was found"),
    pytest.mark.filterwarnings("ignore:No positive class found"),
]

PARAMS = {"beta": 0.5, "min_precision": 0.9, "min_recall": 0.8, "bins": 10}


def subsets(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Bootstrap draws, tiny draws (often missing a class) and the whole split."""
    draws = [rng.integers(0, n, size=n) for _ in range(30)]
    draws += [rng.integers(0, n, size=3) for _ in range(30)]
    return [*draws, np.arange(n)]


def check(task: Task, name: str, y_true: np.ndarray, inputs: np.ndarray) -> None:
    metric = get_metric(name)
    params = {key: PARAMS[key] for key in (p.name for p in metric.params) if key in PARAMS}
    fast = resampled_scorer(task, name, params, y_true, inputs)
    assert fast is not None, f"{name} should have a fast path for {task}"
    for rows in subsets(len(y_true), np.random.default_rng(1)):
        expected = metric.score(y_true[rows], inputs[rows], params)
        assert fast(rows) == pytest.approx(expected, abs=1e-12), (name, rows)


@pytest.mark.parametrize(
    "name",
    [
        "precision",
        "recall",
        "f1",
        "fbeta",
        "accuracy",
        "mcc",
        "recall_at_precision",
        "precision_at_recall",
    ],
)
def test_binary_label_metrics_match_scikit_learn(name: str) -> None:
    rng = np.random.default_rng(0)
    y_true = (rng.random(200) < 0.1).astype(np.int64)  # rare positives: subsets often have none
    labels = ((y_true + (rng.random(200) < 0.15)) % 2).astype(np.int64)
    check(Task.BINARY, name, y_true, labels)


@pytest.mark.parametrize("name", ["accuracy", "macro_f1", "weighted_f1"])
def test_multiclass_label_metrics_match_scikit_learn(name: str) -> None:
    rng = np.random.default_rng(0)
    y_true = rng.choice(5, size=300, p=[0.5, 0.3, 0.15, 0.04, 0.01])
    labels = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 5, size=300))
    check(Task.MULTICLASS, name, y_true, labels)


@pytest.mark.parametrize("name", ["mae", "mse", "rmse", "mape", "r2"])
def test_regression_metrics_match_scikit_learn(name: str) -> None:
    rng = np.random.default_rng(0)
    y_true = rng.normal(5.0, 2.0, size=200)
    values = y_true + rng.normal(0.0, 0.5, size=200)
    check(Task.REGRESSION, name, y_true, values)


def test_r2_on_constant_targets_follows_scikit_learn() -> None:
    # Rounded targets with few values: tiny subsets often draw one value (scikit-learn: 1.0 if
    # predicted exactly, else 0.0).
    rng = np.random.default_rng(10)
    y_true = rng.integers(0, 2, size=60).astype(np.float64)
    values = np.where(rng.random(60) < 0.5, y_true, y_true + 0.3)
    check(Task.REGRESSION, "r2", y_true, values)


def test_metrics_without_a_fast_path_are_left_to_scikit_learn() -> None:
    y = np.array([0, 1, 1, 0])
    assert resampled_scorer(Task.BINARY, "balanced_accuracy", {}, y, y) is None
    assert resampled_scorer(Task.MULTILABEL, "samples_f1", {}, y[:, None], y[:, None]) is None


def test_binary_probability_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    y_true = (rng.random(200) < 0.2).astype(np.int64)
    probabilities = np.clip(0.3 * y_true + rng.random(200) * 0.7, 0.0, 1.0)
    probabilities[:3] = [0.0, 1.0, 1e-300]  # clipped as scikit-learn clips them
    for name in ("log_loss", "brier"):
        check(Task.BINARY, name, y_true, probabilities)


def test_multiclass_log_loss_matches_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(150, 4))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y_true = rng.integers(0, 4, size=150)
    rows = [rng.integers(0, 150, size=150) for _ in range(20)] + [np.arange(150)]
    fast = resampled_scorer(Task.MULTICLASS, "log_loss", {}, y_true, probabilities)
    assert fast is not None
    metric = get_metric("log_loss")
    for picked in rows:
        expected = metric.score(y_true[picked], probabilities[picked], {})
        assert fast(picked) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name", ["log_loss", "kl_divergence"])
def test_soft_target_probability_metrics_resample_as_the_plain_metric(name: str) -> None:
    rng = np.random.default_rng(13)
    logits = rng.normal(size=(150, 4))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    soft = rng.dirichlet(np.full(4, 0.5), 150)
    soft[:10] = np.eye(4)[rng.integers(0, 4, 10)]  # hard rows among them: zeros in the target
    fast = resampled_scorer(Task.MULTICLASS, name, {}, soft, probabilities)
    assert fast is not None
    metric = get_metric(name)
    for picked in [rng.integers(0, 150, size=150) for _ in range(20)] + [np.arange(150)]:
        expected = metric.score(soft[picked], probabilities[picked], {})
        assert fast(picked) == pytest.approx(expected, abs=1e-12)


def test_roc_auc_from_ranks_matches_scikit_learn_and_is_nan_without_both_classes() -> None:
    rng = np.random.default_rng(4)
    y_true = (rng.random(120) < 0.15).astype(np.int64)
    scores = np.round(rng.normal(size=120) + y_true, 1)  # rounded: many ties
    fast = resampled_scorer(Task.BINARY, "roc_auc", {}, y_true, scores)
    assert fast is not None
    metric = get_metric("roc_auc")
    for rows in subsets(len(y_true), np.random.default_rng(5)):
        if 0 < y_true[rows].sum() < len(rows):
            assert fast(rows) == pytest.approx(
                metric.score(y_true[rows], scores[rows], {}), abs=1e-12
            )
        else:
            assert np.isnan(fast(rows))


def test_average_precision_matches_scikit_learn_with_ties_and_without_positives() -> None:
    rng = np.random.default_rng(6)
    y_true = (rng.random(150) < 0.1).astype(np.int64)  # tiny subsets often draw no positive
    scores = np.round(rng.normal(size=150) + 1.5 * y_true, 1)  # rounded: many ties
    check(Task.BINARY, "pr_auc", y_true, scores)


def test_multilabel_micro_f1_and_macro_roc_auc_match_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    y_true = (rng.random((160, 4)) < [0.5, 0.2, 0.05, 0.3]).astype(np.int64)
    scores = np.round(y_true + rng.normal(scale=0.9, size=(160, 4)), 1)
    check(Task.MULTILABEL, "micro_f1", y_true, (scores > 0.5).astype(np.int64))
    fast = resampled_scorer(Task.MULTILABEL, "macro_roc_auc", {}, y_true, scores)
    assert fast is not None
    metric = get_metric("macro_roc_auc")
    for rows in subsets(len(y_true), np.random.default_rng(8)):
        expected = metric.score(y_true[rows], scores[rows], {})
        if np.isnan(expected):  # no label drew both classes
            assert np.isnan(fast(rows))
        else:
            assert fast(rows) == pytest.approx(expected, abs=1e-12)


def test_calibration_error_matches_the_plain_metric_for_every_task() -> None:
    rng = np.random.default_rng(9)
    y_binary = (rng.random(200) < 0.3).astype(np.int64)
    p_binary = np.clip(0.4 * y_binary + 0.6 * rng.random(200), 0.0, 1.0)
    p_binary[:2] = [0.0, 1.0]  # the edges: the first bin and the last (closed) bin
    check(Task.BINARY, "ece", y_binary, p_binary)
    y_classes = rng.integers(0, 4, size=200)
    logits = rng.normal(size=(200, 4)) + 2.0 * np.eye(4)[y_classes]
    check(Task.MULTICLASS, "ece", y_classes, np.exp(logits) / np.exp(logits).sum(1, keepdims=True))
    y_labels = (rng.random((200, 3)) < [0.5, 0.2, 0.1]).astype(np.int64)
    check(
        Task.MULTILABEL, "ece", y_labels, np.clip(0.5 * y_labels + 0.5 * rng.random((200, 3)), 0, 1)
    )
