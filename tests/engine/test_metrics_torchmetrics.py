"""Our metrics (scikit-learn) agree with torchmetrics wherever the two define the same number.

A second, independent implementation catches a wrong scikit-learn call (wrong average, wrong
argument order, labels where scores were meant) that a test against scikit-learn alone cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from tests.engine.losses.references import torchmetrics_functional
from workers.engine.metrics import get_metric

RNG = np.random.default_rng(7)
N = 300
Y_BIN = RNG.integers(0, 2, N)
SCORES_BIN = Y_BIN + RNG.normal(scale=1.0, size=N)
LABELS_BIN = (SCORES_BIN > 0.5).astype(np.int64)
Y_MC = RNG.integers(0, 4, N)
_LOGITS = RNG.normal(size=(N, 4)) + 1.5 * np.eye(4)[Y_MC]
PROBS_MC = np.exp(_LOGITS) / np.exp(_LOGITS).sum(axis=1, keepdims=True)
LABELS_MC = PROBS_MC.argmax(axis=1)
Y_ML = (RNG.random((N, 3)) < [0.5, 0.3, 0.2]).astype(np.int64)
SCORES_ML = Y_ML + RNG.normal(scale=0.9, size=(N, 3))
LABELS_ML = (SCORES_ML > 0.5).astype(np.int64)
Y_REG = RNG.uniform(1.0, 10.0, N)
PRED_REG = Y_REG + RNG.normal(scale=1.0, size=N)
PRED_POS = np.abs(PRED_REG) + 0.1


def tm(name: str) -> Callable[..., torch.Tensor]:
    functional = torchmetrics_functional()
    for module in (functional.classification, functional):
        if hasattr(module, name):
            return getattr(module, name)  # type: ignore[no-any-return]
    raise AttributeError(f"torchmetrics has no {name}")


def t(array: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(array)


# metric, params, y_true, metric input, torchmetrics call on (y_true, input) as tensors
CASES: list[tuple[str, dict[str, Any], np.ndarray, np.ndarray, Callable[[Any, Any], Any]]] = [
    ("accuracy", {}, Y_BIN, LABELS_BIN, lambda y, p: tm("binary_accuracy")(p, y)),
    ("precision", {}, Y_BIN, LABELS_BIN, lambda y, p: tm("binary_precision")(p, y)),
    ("recall", {}, Y_BIN, LABELS_BIN, lambda y, p: tm("binary_recall")(p, y)),
    ("f1", {}, Y_BIN, LABELS_BIN, lambda y, p: tm("binary_f1_score")(p, y)),
    (
        "fbeta",
        {"beta": 2.0},
        Y_BIN,
        LABELS_BIN,
        lambda y, p: tm("binary_fbeta_score")(p, y, beta=2.0),
    ),
    ("mcc", {}, Y_BIN, LABELS_BIN, lambda y, p: tm("binary_matthews_corrcoef")(p, y)),
    (
        "roc_auc",
        {},
        Y_BIN,
        SCORES_BIN,
        lambda y, s: tm("binary_auroc")(torch.sigmoid(s), y),
    ),
    (
        "pr_auc",
        {},
        Y_BIN,
        SCORES_BIN,
        lambda y, s: tm("binary_average_precision")(torch.sigmoid(s), y),
    ),
    (
        "accuracy",
        {},
        Y_MC,
        LABELS_MC,
        lambda y, p: tm("multiclass_accuracy")(p, y, num_classes=4, average="micro"),
    ),
    (
        "balanced_accuracy",
        {},
        Y_MC,
        LABELS_MC,
        lambda y, p: tm("multiclass_recall")(p, y, num_classes=4, average="macro"),
    ),
    (
        "macro_f1",
        {},
        Y_MC,
        LABELS_MC,
        lambda y, p: tm("multiclass_f1_score")(p, y, num_classes=4, average="macro"),
    ),
    (
        "weighted_f1",
        {},
        Y_MC,
        LABELS_MC,
        lambda y, p: tm("multiclass_f1_score")(p, y, num_classes=4, average="weighted"),
    ),
    (
        "mcc",
        {},
        Y_MC,
        LABELS_MC,
        lambda y, p: tm("multiclass_matthews_corrcoef")(p, y, num_classes=4),
    ),
    (
        "cohen_kappa",
        {"weights": "quadratic"},
        Y_MC,
        LABELS_MC,
        lambda y, p: tm("multiclass_cohen_kappa")(p, y, num_classes=4, weights="quadratic"),
    ),
    (
        "cohen_kappa",
        {"weights": "linear"},
        Y_MC,
        LABELS_MC,
        lambda y, p: tm("multiclass_cohen_kappa")(p, y, num_classes=4, weights="linear"),
    ),
    (
        "top_k_accuracy",
        {"k": 2},
        Y_MC,
        PROBS_MC,
        lambda y, p: tm("multiclass_accuracy")(p, y, num_classes=4, top_k=2, average="micro"),
    ),
    (
        "micro_f1",
        {},
        Y_ML,
        LABELS_ML,
        lambda y, p: tm("multilabel_f1_score")(p, y, num_labels=3, average="micro"),
    ),
    (
        "macro_f1",
        {},
        Y_ML,
        LABELS_ML,
        lambda y, p: tm("multilabel_f1_score")(p, y, num_labels=3, average="macro"),
    ),
    (
        "jaccard",
        {"average": "macro"},
        Y_ML,
        LABELS_ML,
        lambda y, p: tm("multilabel_jaccard_index")(p, y, num_labels=3, average="macro"),
    ),
    (
        "hamming_loss",
        {},
        Y_ML,
        LABELS_ML,
        lambda y, p: tm("multilabel_hamming_distance")(p, y, num_labels=3, average="micro"),
    ),
    (
        "subset_accuracy",
        {},
        Y_ML,
        LABELS_ML,
        lambda y, p: tm("multilabel_exact_match")(p, y, num_labels=3),
    ),
    (
        "macro_roc_auc",
        {},
        Y_ML,
        SCORES_ML,
        lambda y, s: tm("multilabel_auroc")(torch.sigmoid(s), y, num_labels=3, average="macro"),
    ),
    (
        "ece",
        {"bins": 15},
        Y_BIN,
        1.0 / (1.0 + np.exp(-SCORES_BIN)),
        lambda y, p: tm("binary_calibration_error")(p, y, n_bins=15, norm="l1"),
    ),
    (
        "ece",
        {"bins": 10},
        Y_MC,
        PROBS_MC,
        lambda y, p: tm("multiclass_calibration_error")(p, y, num_classes=4, n_bins=10, norm="l1"),
    ),
    (
        "ece",
        {"bins": 15},
        Y_ML,
        1.0 / (1.0 + np.exp(-SCORES_ML)),
        # torchmetrics has no multilabel ECE; ours pools every (example, label) pair as binary.
        lambda y, p: tm("binary_calibration_error")(p.flatten(), y.flatten(), n_bins=15),
    ),
    ("mae", {}, Y_REG, PRED_REG, lambda y, p: tm("mean_absolute_error")(p, y)),
    ("mse", {}, Y_REG, PRED_REG, lambda y, p: tm("mean_squared_error")(p, y)),
    ("rmse", {}, Y_REG, PRED_REG, lambda y, p: tm("mean_squared_error")(p, y, squared=False)),
    ("mape", {}, Y_REG, PRED_REG, lambda y, p: tm("mean_absolute_percentage_error")(p, y)),
    ("r2", {}, Y_REG, PRED_REG, lambda y, p: tm("r2_score")(p, y)),
    (
        "poisson_deviance",
        {},
        Y_REG,
        PRED_POS,
        lambda y, p: tm("tweedie_deviance_score")(p, y, power=1.0),
    ),
    ("msle", {}, Y_REG, PRED_POS, lambda y, p: tm("mean_squared_log_error")(p, y)),
    ("rmsle", {}, Y_REG, PRED_POS, lambda y, p: tm("mean_squared_log_error")(p, y).sqrt()),
]


@pytest.mark.parametrize(
    ("name", "params", "y_true", "given", "reference"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_metric_agrees_with_torchmetrics(
    name: str,
    params: dict[str, Any],
    y_true: np.ndarray,
    given: np.ndarray,
    reference: Callable[[Any, Any], Any],
) -> None:
    metric = get_metric(name)
    ours = metric.score(y_true, given, metric.resolve_params(params))
    theirs = float(reference(t(y_true), t(given)))
    assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-6)
