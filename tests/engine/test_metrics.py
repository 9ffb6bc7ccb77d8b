"""The metric catalogue: scikit-learn's numbers, directions, and checks on names and parameters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from workers.engine.errors import SpecError
from workers.engine.metrics import METRICS, Direction, check_metric_fits, get_metric, metrics_for
from workers.engine.spec import MetricRef, Task

RNG = np.random.default_rng(42)
N = 200
Y_BINARY = RNG.integers(0, 2, N)
LABELS_BINARY = np.where(RNG.random(N) < 0.8, Y_BINARY, 1 - Y_BINARY)
SCORES_BINARY = Y_BINARY + RNG.normal(scale=0.8, size=N)
PROBS_BINARY = 1.0 / (1.0 + np.exp(-SCORES_BINARY))
Y_MULTICLASS = RNG.integers(0, 4, N)
LABELS_MULTICLASS = np.where(RNG.random(N) < 0.6, Y_MULTICLASS, RNG.integers(0, 4, N))
_LOGITS = RNG.normal(size=(N, 4)) + 2.0 * np.eye(4)[Y_MULTICLASS]
PROBS_MULTICLASS = np.exp(_LOGITS) / np.exp(_LOGITS).sum(axis=1, keepdims=True)
# Soft targets: a distribution per row, with zeros (0 log 0 = 0 in KL) in some rows.
_RAW_SOFT = RNG.dirichlet(np.full(4, 0.7), N) * (RNG.random((N, 4)) < 0.8) + 1e-12 * np.eye(4)[0]
SOFT_MULTICLASS = _RAW_SOFT / _RAW_SOFT.sum(axis=1, keepdims=True)
Y_MULTILABEL = (RNG.random((N, 3)) < [0.5, 0.2, 0.1]).astype(np.int64)
LABELS_MULTILABEL = np.where(RNG.random((N, 3)) < 0.85, Y_MULTILABEL, 1 - Y_MULTILABEL)
SCORES_MULTILABEL = Y_MULTILABEL + RNG.normal(scale=0.8, size=(N, 3))
Y_REGRESSION = RNG.uniform(1.0, 10.0, N)
PRED_REGRESSION = Y_REGRESSION + RNG.normal(scale=1.0, size=N)

SkFn = Callable[[np.ndarray, np.ndarray], float]
B, C, L, R = Task.BINARY, Task.MULTICLASS, Task.MULTILABEL, Task.REGRESSION

# Parameters without a default, given per task (a cost matrix is sized by the classes).
COSTS_BINARY = ((0.0, 1.0), (5.0, 0.5))
COSTS_MULTICLASS = (
    (0.0, 1.0, 2.0, 3.0),
    (4.0, 0.0, 1.0, 1.0),
    (9.0, 2.0, 0.0, 1.0),
    (1.0, 1.0, 1.0, 0.5),
)
GIVEN_PARAMS: dict[tuple[str, Task], dict[str, object]] = {
    ("expected_cost", B): {"costs": COSTS_BINARY},
    ("expected_cost", C): {"costs": COSTS_MULTICLASS},
}


def _sklearn_cost(costs: tuple[tuple[float, ...], ...]) -> SkFn:
    """The mean cost from scikit-learn's confusion matrix, weighted cell by cell."""

    def score(y: np.ndarray, decisions: np.ndarray) -> float:
        counts = skm.confusion_matrix(y, decisions, labels=list(range(len(costs))))
        return float((counts * np.asarray(costs)).sum() / len(y))

    return score


def _sklearn_ece(outcome: np.ndarray, confidence: np.ndarray, bins: int = 15) -> float:
    """ECE from scikit-learn's reliability curve (uniform bins): the non-empty bins' observed
    frequency and mean confidence, weighted by their share of the rows."""
    observed, predicted = calibration_curve(outcome, confidence, n_bins=bins, strategy="uniform")
    which = np.searchsorted(np.linspace(0.0, 1.0, bins + 1)[1:-1], confidence)
    counts = np.bincount(which, minlength=bins)
    shares = counts[counts > 0] / len(confidence)
    return float(np.sum(shares * np.abs(observed - predicted)))


def _numpy_cross_entropy(soft: np.ndarray, probabilities: np.ndarray) -> float:
    """-sum_c t_c log p_c per row, averaged (the probabilities here are never clipped)."""
    return float(np.mean(-(soft * np.log(probabilities)).sum(axis=1)))


def _numpy_kl(soft: np.ndarray, probabilities: np.ndarray) -> float:
    """sum_c t_c log(t_c / p_c) per row over t_c > 0, averaged."""
    terms = np.zeros_like(soft)
    positive = soft > 0
    terms[positive] = soft[positive] * np.log(soft[positive] / probabilities[positive])
    return float(np.mean(terms.sum(axis=1)))


def _sklearn_top_label_ece(y: np.ndarray, probabilities: np.ndarray) -> float:
    correct = (probabilities.argmax(axis=1) == y).astype(np.int64)
    return _sklearn_ece(correct, probabilities.max(axis=1))


# metric name -> (task, y_true, what the metric receives, the scikit-learn reference), with the
# metric's default parameters.
REFERENCES: dict[str, list[tuple[Task, np.ndarray, np.ndarray, SkFn]]] = {
    "accuracy": [
        (B, Y_BINARY, LABELS_BINARY, skm.accuracy_score),
        (C, Y_MULTICLASS, LABELS_MULTICLASS, skm.accuracy_score),
    ],
    "balanced_accuracy": [
        (B, Y_BINARY, LABELS_BINARY, skm.balanced_accuracy_score),
        (C, Y_MULTICLASS, LABELS_MULTICLASS, skm.balanced_accuracy_score),
    ],
    "precision": [(B, Y_BINARY, LABELS_BINARY, skm.precision_score)],
    "recall": [(B, Y_BINARY, LABELS_BINARY, skm.recall_score)],
    "f1": [(B, Y_BINARY, LABELS_BINARY, skm.f1_score)],
    "fbeta": [(B, Y_BINARY, LABELS_BINARY, lambda y, p: skm.fbeta_score(y, p, beta=1.0))],
    "mcc": [
        (B, Y_BINARY, LABELS_BINARY, skm.matthews_corrcoef),
        (C, Y_MULTICLASS, LABELS_MULTICLASS, skm.matthews_corrcoef),
    ],
    "roc_auc": [(B, Y_BINARY, SCORES_BINARY, skm.roc_auc_score)],
    "pr_auc": [(B, Y_BINARY, SCORES_BINARY, skm.average_precision_score)],
    "recall_at_precision": [(B, Y_BINARY, LABELS_BINARY, skm.recall_score)],
    "precision_at_recall": [(B, Y_BINARY, LABELS_BINARY, skm.precision_score)],
    "log_loss": [
        (B, Y_BINARY, PROBS_BINARY, skm.log_loss),
        (C, Y_MULTICLASS, PROBS_MULTICLASS, skm.log_loss),
        (C, SOFT_MULTICLASS, PROBS_MULTICLASS, _numpy_cross_entropy),
    ],
    # On hard labels KL(one-hot || p) is the log loss itself.
    "kl_divergence": [
        (C, SOFT_MULTICLASS, PROBS_MULTICLASS, _numpy_kl),
        (C, Y_MULTICLASS, PROBS_MULTICLASS, skm.log_loss),
    ],
    "brier": [(B, Y_BINARY, PROBS_BINARY, skm.brier_score_loss)],
    "ece": [
        (B, Y_BINARY, PROBS_BINARY, _sklearn_ece),
        (C, Y_MULTICLASS, PROBS_MULTICLASS, _sklearn_top_label_ece),
        (
            L,
            Y_MULTILABEL,
            1.0 / (1.0 + np.exp(-SCORES_MULTILABEL)),
            lambda y, p: _sklearn_ece(y.ravel(), p.ravel()),
        ),
    ],
    "macro_f1": [
        (C, Y_MULTICLASS, LABELS_MULTICLASS, lambda y, p: skm.f1_score(y, p, average="macro")),
        (L, Y_MULTILABEL, LABELS_MULTILABEL, lambda y, p: skm.f1_score(y, p, average="macro")),
    ],
    "weighted_f1": [
        (C, Y_MULTICLASS, LABELS_MULTICLASS, lambda y, p: skm.f1_score(y, p, average="weighted"))
    ],
    "expected_cost": [
        (B, Y_BINARY, LABELS_BINARY, _sklearn_cost(COSTS_BINARY)),
        (C, Y_MULTICLASS, LABELS_MULTICLASS, _sklearn_cost(COSTS_MULTICLASS)),
    ],
    "top_k_accuracy": [
        (C, Y_MULTICLASS, PROBS_MULTICLASS, lambda y, p: skm.top_k_accuracy_score(y, p, k=2))
    ],
    "cohen_kappa": [
        (
            C,
            Y_MULTICLASS,
            LABELS_MULTICLASS,
            lambda y, p: skm.cohen_kappa_score(y, p, weights="quadratic"),
        )
    ],
    "micro_f1": [
        (L, Y_MULTILABEL, LABELS_MULTILABEL, lambda y, p: skm.f1_score(y, p, average="micro"))
    ],
    "samples_f1": [
        (
            L,
            Y_MULTILABEL,
            LABELS_MULTILABEL,
            lambda y, p: skm.f1_score(y, p, average="samples", zero_division=0.0),
        )
    ],
    "jaccard": [
        (
            L,
            Y_MULTILABEL,
            LABELS_MULTILABEL,
            lambda y, p: skm.jaccard_score(y, p, average="samples", zero_division=0.0),
        )
    ],
    "hamming_loss": [(L, Y_MULTILABEL, LABELS_MULTILABEL, skm.hamming_loss)],
    "subset_accuracy": [(L, Y_MULTILABEL, LABELS_MULTILABEL, skm.accuracy_score)],
    "macro_roc_auc": [
        (L, Y_MULTILABEL, SCORES_MULTILABEL, lambda y, s: skm.roc_auc_score(y, s, average="macro"))
    ],
    "mae": [(R, Y_REGRESSION, PRED_REGRESSION, skm.mean_absolute_error)],
    "mse": [(R, Y_REGRESSION, PRED_REGRESSION, skm.mean_squared_error)],
    "rmse": [(R, Y_REGRESSION, PRED_REGRESSION, skm.root_mean_squared_error)],
    "mape": [(R, Y_REGRESSION, PRED_REGRESSION, skm.mean_absolute_percentage_error)],
    "r2": [(R, Y_REGRESSION, PRED_REGRESSION, skm.r2_score)],
    "median_ae": [(R, Y_REGRESSION, PRED_REGRESSION, skm.median_absolute_error)],
    "pinball": [
        (R, Y_REGRESSION, PRED_REGRESSION, lambda y, p: skm.mean_pinball_loss(y, p, alpha=0.5))
    ],
    "poisson_deviance": [
        (
            R,
            Y_REGRESSION,
            PRED_REGRESSION,
            lambda y, p: skm.mean_poisson_deviance(y, np.maximum(p, 1e-9)),
        )
    ],
    "msle": [
        (
            R,
            Y_REGRESSION,
            PRED_REGRESSION,
            lambda y, p: skm.mean_squared_log_error(y, np.maximum(p, 0.0)),
        )
    ],
    "rmsle": [
        (
            R,
            Y_REGRESSION,
            PRED_REGRESSION,
            lambda y, p: skm.root_mean_squared_log_error(y, np.maximum(p, 0.0)),
        )
    ],
}

MINIMIZED = {
    "expected_cost",
    "log_loss",
    "kl_divergence",
    "brier",
    "ece",
    "hamming_loss",
    "mae",
    "mse",
    "rmse",
    "mape",
    "median_ae",
    "pinball",
    "poisson_deviance",
    "msle",
    "rmsle",
}
DIRECTIONS = {
    name: Direction.MINIMIZE if name in MINIMIZED else Direction.MAXIMIZE for name in REFERENCES
}


def test_every_metric_in_the_catalogue_has_a_reference_here() -> None:
    assert set(REFERENCES) == set(METRICS)
    assert set(DIRECTIONS) == set(METRICS)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_metric_equals_scikit_learn(name: str) -> None:
    metric = get_metric(name)
    for task, y_true, received, reference in REFERENCES[name]:
        params = metric.resolve_params(GIVEN_PARAMS.get((name, task), {}))
        assert task in metric.tasks
        # To the last bits: the ECE reference sums its bins in another order.
        expected = float(reference(y_true, received))
        assert metric.score(y_true, received, params) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", sorted(DIRECTIONS))
def test_metric_direction(name: str) -> None:
    metric = get_metric(name)
    assert metric.direction is DIRECTIONS[name]
    assert metric.greater_is_better is (DIRECTIONS[name] is Direction.MAXIMIZE)


def test_label_metrics_with_no_predicted_positives_score_zero_not_warn() -> None:
    y_true, nothing = np.array([0, 1, 1, 0]), np.zeros(4, dtype=np.int64)
    assert get_metric("f1").score(y_true, nothing, {}) == 0.0
    assert get_metric("recall_at_precision").score(y_true, nothing, {"min_precision": 0.9}) == 0.0


def test_binary_and_multilabel_label_metrics_depend_on_thresholds() -> None:
    assert get_metric("f1").depends_on_threshold(Task.BINARY)
    assert get_metric("accuracy").depends_on_threshold(Task.BINARY)
    assert get_metric("micro_f1").depends_on_threshold(Task.MULTILABEL)
    assert get_metric("macro_f1").depends_on_threshold(Task.MULTILABEL)
    assert get_metric("macro_f1").depends_on_threshold(Task.MULTICLASS)  # class offsets
    assert get_metric("expected_cost").depends_on_threshold(Task.BINARY)
    assert get_metric("expected_cost").depends_on_threshold(Task.MULTICLASS)  # cost offsets
    assert not get_metric("accuracy").depends_on_threshold(Task.MULTICLASS)
    assert not get_metric("roc_auc").depends_on_threshold(Task.BINARY)
    assert not get_metric("log_loss").depends_on_threshold(Task.BINARY)
    assert not get_metric("macro_roc_auc").depends_on_threshold(Task.MULTILABEL)
    assert not get_metric("mae").depends_on_threshold(Task.REGRESSION)


def test_metrics_for_each_task() -> None:
    assert metrics_for(Task.REGRESSION) == [
        "mae",
        "mape",
        "median_ae",
        "mse",
        "msle",
        "pinball",
        "poisson_deviance",
        "r2",
        "rmse",
        "rmsle",
    ]
    assert metrics_for(Task.MULTICLASS) == [
        "accuracy",
        "balanced_accuracy",
        "cohen_kappa",
        "ece",
        "expected_cost",
        "kl_divergence",
        "log_loss",
        "macro_f1",
        "mcc",
        "top_k_accuracy",
        "weighted_f1",
    ]
    assert metrics_for(Task.MULTILABEL) == [
        "ece",
        "hamming_loss",
        "jaccard",
        "macro_f1",
        "macro_roc_auc",
        "micro_f1",
        "samples_f1",
        "subset_accuracy",
    ]
    assert set(metrics_for(Task.BINARY)) == {
        "accuracy",
        "balanced_accuracy",
        "brier",
        "ece",
        "expected_cost",
        "f1",
        "fbeta",
        "log_loss",
        "mcc",
        "pr_auc",
        "precision",
        "precision_at_recall",
        "recall",
        "recall_at_precision",
        "roc_auc",
    }


def test_a_metric_for_another_task_raises_naming_the_valid_ones() -> None:
    with pytest.raises(SpecError, match="'mae' does not apply to a binary task") as excinfo:
        check_metric_fits(MetricRef(name="mae"), Task.BINARY)
    for name in metrics_for(Task.BINARY):
        assert name in str(excinfo.value)


def test_an_unknown_metric_raises_listing_every_metric() -> None:
    with pytest.raises(SpecError, match="unknown metric 'auc'") as excinfo:
        check_metric_fits(MetricRef(name="auc"), Task.BINARY)
    for name in METRICS:
        assert name in str(excinfo.value)


def test_recall_at_precision_defaults_to_precision_0_9_held_with_confidence_0_9() -> None:
    assert check_metric_fits(MetricRef(name="recall_at_precision"), Task.BINARY) == {
        "min_precision": 0.9,
        "confidence": 0.9,
    }
    given = MetricRef(name="recall_at_precision", params={"min_precision": 0.75})
    assert check_metric_fits(given, Task.BINARY) == {"min_precision": 0.75, "confidence": 0.9}


@pytest.mark.parametrize("value", [0.0, 1.0, 1.5, -0.2])
def test_recall_at_precision_rejects_min_precision_out_of_range(value: float) -> None:
    ref = MetricRef(name="recall_at_precision", params={"min_precision": value})
    with pytest.raises(SpecError, match="out of range"):
        check_metric_fits(ref, Task.BINARY)


def test_unknown_metric_parameters_raise_naming_the_known_ones() -> None:
    ref = MetricRef(name="recall_at_precision", params={"min_recall": 0.5})
    with pytest.raises(SpecError, match=r"no parameter 'min_recall'.*min_precision"):
        check_metric_fits(ref, Task.BINARY)
    with pytest.raises(SpecError, match=r"no parameter 'beta' .*none"):
        check_metric_fits(MetricRef(name="f1", params={"beta": 2.0}), Task.BINARY)


def test_metrics_without_parameters_resolve_to_none() -> None:
    assert check_metric_fits(MetricRef(name="roc_auc"), Task.BINARY) == {}


def test_categorical_and_integer_parameters_are_checked() -> None:
    assert check_metric_fits(MetricRef(name="cohen_kappa"), Task.MULTICLASS) == {
        "weights": "quadratic"
    }
    linear = MetricRef(name="cohen_kappa", params={"weights": "linear"})
    assert check_metric_fits(linear, Task.MULTICLASS) == {"weights": "linear"}
    with pytest.raises(SpecError, match="must be one of \\['linear', 'quadratic'\\]"):
        check_metric_fits(
            MetricRef(name="cohen_kappa", params={"weights": "cubic"}), Task.MULTICLASS
        )
    with pytest.raises(SpecError, match="must be an integer"):
        check_metric_fits(MetricRef(name="top_k_accuracy", params={"k": 2.5}), Task.MULTICLASS)
    with pytest.raises(SpecError, match="must be a number"):
        check_metric_fits(MetricRef(name="fbeta", params={"beta": "two"}), Task.BINARY)


def test_macro_roc_auc_skips_labels_with_one_class_in_the_split() -> None:
    y = Y_MULTILABEL.copy()
    y[:, 2] = 0
    expected = skm.roc_auc_score(y[:, :2], SCORES_MULTILABEL[:, :2], average="macro")
    assert get_metric("macro_roc_auc").score(y, SCORES_MULTILABEL, {}) == expected


def test_msle_scores_a_negative_prediction_as_zero() -> None:
    # log(1 + y) is undefined at y <= -1; a negative amount is predicted as none at all.
    value = get_metric("msle").score(np.array([0.0, np.e - 1.0]), np.array([-3.0, 0.0]), {})
    assert value == pytest.approx(0.5)
    assert get_metric("rmsle").score(np.array([np.e - 1.0]), np.array([-3.0]), {}) == 1.0


def test_poisson_deviance_clips_non_positive_predictions() -> None:
    value = get_metric("poisson_deviance").score(np.array([1.0, 2.0]), np.array([-1.0, 2.0]), {})
    assert np.isfinite(value)


def test_ece_by_hand_binary_calibrates_the_positive_class_probability() -> None:
    # 5 bins of width 0.2. [0.1, 0.15]: confidence 0.125, positives 0; [0.7, 0.75]: 0.725 vs 1;
    # [0.9, 0.95]: 0.925 vs 1/2. Each bin holds a third of the rows.
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.1, 0.15, 0.7, 0.75, 0.9, 0.95])
    expected = (0.125 + 0.275 + 0.425) / 3
    assert get_metric("ece").score(y, p, {"bins": 5}) == pytest.approx(expected, abs=1e-15)


def test_ece_by_hand_multiclass_uses_the_top_label() -> None:
    # Top-label confidences 0.7 (right), 0.65 (wrong), 0.45 (right), 0.9 (wrong). With 5 bins:
    # [0.6, 0.8) holds 0.7 and 0.65 (confidence 0.675, accuracy 1/2), then 0.45 alone and 0.9
    # alone: 2/4 * 0.175 + 1/4 * 0.55 + 1/4 * 0.9.
    y = np.array([0, 2, 2, 1])
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.65, 0.25], [0.25, 0.3, 0.45], [0.9, 0.05, 0.05]])
    assert get_metric("ece").score(y, p, {"bins": 5}) == pytest.approx(0.45, abs=1e-15)


def test_ece_by_hand_multilabel_pools_every_example_and_label() -> None:
    # Pairs (0.9, 1), (0.1, 0), (0.3, 0), (0.15, 0): bins [0.8, 1] gap 0.1, [0, 0.2) gap 0.125
    # over two pairs, [0.2, 0.4) gap 0.3.
    y = np.array([[1, 0], [0, 0]])
    p = np.array([[0.9, 0.1], [0.3, 0.15]])
    expected = 0.1 / 4 + 0.125 * 2 / 4 + 0.3 / 4
    assert get_metric("ece").score(y, p, {"bins": 5}) == pytest.approx(expected, abs=1e-15)


def test_ece_is_zero_when_each_bin_is_calibrated_and_bins_change_it() -> None:
    # Four rows at 0.25 with one positive and four at 0.75 with three: calibrated.
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    p = np.array([0.25] * 4 + [0.75] * 4)
    assert get_metric("ece").score(y, p, {"bins": 10}) == pytest.approx(0.0, abs=1e-15)
    # 0.05 (negative) and 0.19 (positive) share [0, 0.2) at 5 bins: |0.12 - 1/2|; at 10 bins
    # they are apart: (|0.05 - 0| + |0.19 - 1|) / 2.
    y2, p2 = np.array([0, 1]), np.array([0.05, 0.19])
    assert get_metric("ece").score(y2, p2, {"bins": 5}) == pytest.approx(0.38, abs=1e-12)
    assert get_metric("ece").score(y2, p2, {"bins": 10}) == pytest.approx(0.43, abs=1e-12)


def test_ece_bins_default_to_15_and_are_an_integer_from_5_to_100() -> None:
    assert check_metric_fits(MetricRef(name="ece"), Task.MULTICLASS) == {"bins": 15}
    for task in (Task.BINARY, Task.MULTICLASS, Task.MULTILABEL):
        assert check_metric_fits(MetricRef(name="ece", params={"bins": 5}), task) == {"bins": 5}
    for bad, message in [(4, "out of range"), (101, "out of range"), (15.5, "must be an integer")]:
        with pytest.raises(SpecError, match=message):
            check_metric_fits(MetricRef(name="ece", params={"bins": bad}), Task.BINARY)
    with pytest.raises(SpecError, match="'ece' does not apply to a regression task"):
        check_metric_fits(MetricRef(name="ece"), Task.REGRESSION)


def test_kl_divergence_is_log_loss_minus_the_targets_entropy_and_zero_at_the_target() -> None:
    metric = get_metric("kl_divergence")
    entropy = float(np.mean([-(t[t > 0] * np.log(t[t > 0])).sum() for t in SOFT_MULTICLASS]))
    cross_entropy = get_metric("log_loss").score(SOFT_MULTICLASS, PROBS_MULTICLASS, {})
    kl = metric.score(SOFT_MULTICLASS, PROBS_MULTICLASS, {})
    assert kl == pytest.approx(cross_entropy - entropy, rel=1e-9)
    # Predicting the targets themselves: no divergence, though the log loss is the entropy.
    assert metric.score(SOFT_MULTICLASS, SOFT_MULTICLASS, {}) == pytest.approx(0.0, abs=1e-6)
