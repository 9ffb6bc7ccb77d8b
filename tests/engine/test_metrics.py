"""The metric catalogue: scikit-learn's numbers, directions, and checks on names and parameters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn import metrics as skm

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
Y_MULTILABEL = (RNG.random((N, 3)) < [0.5, 0.2, 0.1]).astype(np.int64)
LABELS_MULTILABEL = np.where(RNG.random((N, 3)) < 0.85, Y_MULTILABEL, 1 - Y_MULTILABEL)
SCORES_MULTILABEL = Y_MULTILABEL + RNG.normal(scale=0.8, size=(N, 3))
Y_REGRESSION = RNG.uniform(1.0, 10.0, N)
PRED_REGRESSION = Y_REGRESSION + RNG.normal(scale=1.0, size=N)

SkFn = Callable[[np.ndarray, np.ndarray], float]
B, C, L, R = Task.BINARY, Task.MULTICLASS, Task.MULTILABEL, Task.REGRESSION

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
    ],
    "brier": [(B, Y_BINARY, PROBS_BINARY, skm.brier_score_loss)],
    "macro_f1": [
        (C, Y_MULTICLASS, LABELS_MULTICLASS, lambda y, p: skm.f1_score(y, p, average="macro")),
        (L, Y_MULTILABEL, LABELS_MULTILABEL, lambda y, p: skm.f1_score(y, p, average="macro")),
    ],
    "weighted_f1": [
        (C, Y_MULTICLASS, LABELS_MULTICLASS, lambda y, p: skm.f1_score(y, p, average="weighted"))
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
    "log_loss",
    "brier",
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
    params = metric.resolve_params({})
    for task, y_true, received, reference in REFERENCES[name]:
        assert task in metric.tasks
        assert metric.score(y_true, received, params) == float(reference(y_true, received))


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
        "log_loss",
        "macro_f1",
        "mcc",
        "top_k_accuracy",
        "weighted_f1",
    ]
    assert metrics_for(Task.MULTILABEL) == [
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
