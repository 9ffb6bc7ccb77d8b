"""The scikit-learn call behind each metric name (the calibration error, which scikit-learn lacks,
is computed here, and the expected cost in :mod:`workers.engine.costs`).

``y`` is the split's ``y_true`` (class codes, a 0/1 label matrix, or regression targets; for log
loss and KL divergence on soft targets, the N x C label distributions); the second argument is
what the metric's ``Needs`` says: hard labels, scores, probabilities or values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from sklearn import metrics as skm

from workers.engine.costs import cost_array, mean_cost
from workers.engine.param_values import CostMatrix, number

Params = Mapping[str, float | str | CostMatrix]
Scorer = Callable[[np.ndarray, np.ndarray, Params], float]

POISSON_FLOOR = 1e-9


def _f1(average: str) -> Scorer:
    def score(y: np.ndarray, labels: np.ndarray, _: Params) -> float:
        return float(skm.f1_score(y, labels, average=average, zero_division=0.0))

    return score


def _msle(y: np.ndarray, values: np.ndarray, _: Params) -> float:
    # A log error has no value below a prediction of -1; a negative count or amount predicts 0.
    return float(skm.mean_squared_log_error(y, np.maximum(values, 0.0)))


def _rmsle(y: np.ndarray, values: np.ndarray, _: Params) -> float:
    return float(skm.root_mean_squared_log_error(y, np.maximum(values, 0.0)))


def _log_loss(y: np.ndarray, probabilities: np.ndarray, _: Params) -> float:
    if y.ndim == 2:  # soft targets: scikit-learn's log_loss takes class labels only
        return float(np.mean(cross_entropy_rows(y, probabilities)))
    n_classes = 2 if probabilities.ndim == 1 else probabilities.shape[1]
    return float(skm.log_loss(y, probabilities, labels=list(range(n_classes))))


def _kl_divergence(y: np.ndarray, probabilities: np.ndarray, _: Params) -> float:
    return float(np.mean(kl_divergence_rows(y, probabilities)))


def target_matrix(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Targets as an N x C float matrix of distributions: class codes one-hot, soft as given."""
    if y.ndim == 2:
        return y.astype(np.float64)
    return np.eye(n_classes, dtype=np.float64)[y.astype(np.int64)]


def cross_entropy_rows(y: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Each row's ``-sum_c y_c log p_c`` (``y`` class codes or distributions, N x C
    probabilities). As scikit-learn's log_loss, probabilities are clipped to [eps, 1 - eps]
    (eps of float64) and renormalised, so a zero probability costs about 36, not infinity."""
    eps = np.finfo(np.float64).eps
    clipped = np.clip(probabilities.astype(np.float64), eps, 1.0 - eps)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    rows: np.ndarray = -(target_matrix(y, clipped.shape[1]) * np.log(clipped)).sum(axis=1)
    return rows


def kl_divergence_rows(y: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Each row's ``KL(y || p) = sum_c y_c (log y_c - log p_c)``: the row's cross-entropy minus
    the entropy of its target (``0 log 0 = 0``); for a class code, the cross-entropy itself."""
    truth = target_matrix(y, probabilities.shape[1])
    positive = truth > 0
    logs = np.log(np.where(positive, truth, 1.0))
    entropy = -(truth * logs).sum(axis=1)
    # Clipping can leave a hair below zero where p equals y; KL is non-negative.
    rows: np.ndarray = np.maximum(cross_entropy_rows(truth, probabilities) - entropy, 0.0)
    return rows


def calibration_pairs(y: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each prediction's confidence and whether it came true (0.0 or 1.0), as ECE bins them.

    Binary (1-D probabilities of the positive class): the probability itself and the 0/1 label,
    so a bin compares the mean predicted probability of the positive class with the fraction of
    positives (calibration of p(y = 1), not of the predicted label's confidence). Multiclass
    (N x C probabilities, class codes): the top-label probability and whether the arg-max is the
    class. Multilabel (N x L probabilities, a 0/1 matrix): every cell's probability and label, one
    binary pair per (example, label), in arrays of shape N x L.
    """
    if probabilities.ndim == 2 and y.ndim == 1:  # multiclass
        hit = probabilities.argmax(axis=1) == y
        return probabilities.max(axis=1).astype(np.float64), hit.astype(np.float64)
    return probabilities.astype(np.float64), y.astype(np.float64)


def calibration_bins(confidence: np.ndarray, bins: int) -> np.ndarray:
    """The equal-width bin of each confidence: [k/bins, (k+1)/bins), the last bin closed at 1."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges, confidence, side="right") - 1
    return np.clip(which, 0, bins - 1)


def _ece(y: np.ndarray, probabilities: np.ndarray, params: Params) -> float:
    """Expected calibration error: sum over non-empty bins of (n_b / N) |acc_b - conf_b|."""
    confidence, hit = (a.ravel() for a in calibration_pairs(y, probabilities))
    which = calibration_bins(confidence, int(number(params, "bins")))
    total = 0.0
    for b in np.unique(which):
        inside = which == b
        total += float(inside.mean()) * abs(float(hit[inside].mean() - confidence[inside].mean()))
    return total


def _top_k(y: np.ndarray, probabilities: np.ndarray, params: Params) -> float:
    labels = list(range(probabilities.shape[1]))
    k = min(int(number(params, "k")), len(labels))
    return float(skm.top_k_accuracy_score(y, probabilities, k=k, labels=labels))


def _macro_roc_auc(y: np.ndarray, scores: np.ndarray, _: Params) -> float:
    # A label with a single class in this split has no ROC curve; average over the others.
    usable = [j for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]
    if not usable:
        return float("nan")
    return float(skm.roc_auc_score(y[:, usable], scores[:, usable], average="macro"))


def _poisson(y: np.ndarray, values: np.ndarray, _: Params) -> float:
    return float(skm.mean_poisson_deviance(y, np.maximum(values, POISSON_FLOOR)))


def _expected_cost(y: np.ndarray, decisions: np.ndarray, params: Params) -> float:
    # No scikit-learn function weighs a confusion matrix by costs; the mean of each row's cost is
    # the definition itself (tests compare it with a loop over the rows).
    return mean_cost(y, decisions, cost_array(params))


SCORERS: dict[str, Scorer] = {
    "accuracy": lambda y, p, _: float(skm.accuracy_score(y, p)),
    "balanced_accuracy": lambda y, p, _: float(skm.balanced_accuracy_score(y, p)),
    "precision": lambda y, p, _: float(skm.precision_score(y, p, zero_division=0.0)),
    "recall": lambda y, p, _: float(skm.recall_score(y, p, zero_division=0.0)),
    "f1": _f1("binary"),
    "fbeta": lambda y, p, params: float(
        skm.fbeta_score(y, p, beta=number(params, "beta"), zero_division=0.0)
    ),
    "mcc": lambda y, p, _: float(skm.matthews_corrcoef(y, p)),
    "roc_auc": lambda y, s, _: float(skm.roc_auc_score(y, s)),
    "pr_auc": lambda y, s, _: float(skm.average_precision_score(y, s)),
    # The threshold was chosen on validation to satisfy the constraint; here the other side.
    "recall_at_precision": lambda y, p, _: float(skm.recall_score(y, p, zero_division=0.0)),
    "precision_at_recall": lambda y, p, _: float(skm.precision_score(y, p, zero_division=0.0)),
    "log_loss": _log_loss,
    "kl_divergence": _kl_divergence,
    "brier": lambda y, p, _: float(skm.brier_score_loss(y, p)),
    "ece": _ece,
    "expected_cost": _expected_cost,
    "macro_f1": _f1("macro"),
    "weighted_f1": _f1("weighted"),
    "top_k_accuracy": _top_k,
    "cohen_kappa": lambda y, p, params: float(
        skm.cohen_kappa_score(y, p, weights=str(params["weights"]))
    ),
    "micro_f1": _f1("micro"),
    "samples_f1": _f1("samples"),
    "jaccard": lambda y, p, params: float(
        skm.jaccard_score(y, p, average=str(params["average"]), zero_division=0.0)
    ),
    "hamming_loss": lambda y, p, _: float(skm.hamming_loss(y, p)),
    "subset_accuracy": lambda y, p, _: float(skm.accuracy_score(y, p)),
    "macro_roc_auc": _macro_roc_auc,
    "mae": lambda y, v, _: float(skm.mean_absolute_error(y, v)),
    "mse": lambda y, v, _: float(skm.mean_squared_error(y, v)),
    "rmse": lambda y, v, _: float(skm.root_mean_squared_error(y, v)),
    "mape": lambda y, v, _: float(skm.mean_absolute_percentage_error(y, v)),
    "r2": lambda y, v, _: float(skm.r2_score(y, v)),
    "median_ae": lambda y, v, _: float(skm.median_absolute_error(y, v)),
    "pinball": lambda y, v, params: float(
        skm.mean_pinball_loss(y, v, alpha=number(params, "quantile"))
    ),
    "poisson_deviance": _poisson,
    "msle": _msle,
    "rmsle": _rmsle,
}
