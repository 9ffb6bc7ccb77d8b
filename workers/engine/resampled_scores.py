"""Metric values on many subsets of one split's rows, cheaply: the bootstrap's inner loop.

A paired bootstrap scores every confirmation run of two arms on each of 500 resamples of the
validation and test rows: some 10,000 metric calls per job. scikit-learn's functions spend about
2.5 ms per call validating their inputs, which made the bootstrap most of a small job's
finalization. For the metrics below the value depends only on confusion counts or on a plain
mean, so this module computes it from those directly (microseconds per call); ROC AUC from
ranks. The formulas are scikit-learn's definitions, and ``tests/engine/test_resampled_scores.py``
checks them against scikit-learn on many subsets, including subsets that miss a class. Other
metrics keep calling scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from scipy.stats import rankdata

from workers.engine.metrics import ParamValue
from workers.engine.spec import Task
from workers.engine.thresholds import COUNT_FORMULAS

RowScorer = Callable[[np.ndarray], float]

# Binary metrics on hard labels. The constrained metrics report the other side of their
# constraint at the threshold chosen on validation (see metric_functions).
_BINARY = {
    "precision": COUNT_FORMULAS["precision"],
    "recall": COUNT_FORMULAS["recall"],
    "f1": COUNT_FORMULAS["f1"],
    "fbeta": COUNT_FORMULAS["fbeta"],
    "accuracy": COUNT_FORMULAS["accuracy"],
    "mcc": COUNT_FORMULAS["mcc"],
    "recall_at_precision": COUNT_FORMULAS["recall"],
    "precision_at_recall": COUNT_FORMULAS["precision"],
}
_MULTICLASS = frozenset({"accuracy", "macro_f1", "weighted_f1"})
_REGRESSION = frozenset({"mae", "mse", "rmse", "mape"})


def resampled_scorer(
    task: Task,
    metric: str,
    params: Mapping[str, ParamValue],
    y_true: np.ndarray,
    inputs: np.ndarray,
) -> RowScorer | None:
    """A fast ``rows -> metric`` function, or None when the metric has no fast path."""
    if task is Task.BINARY and metric in _BINARY:
        return _binary(_BINARY[metric], params, y_true, inputs)
    if task is Task.MULTICLASS and metric in _MULTICLASS:
        return _multiclass(metric, y_true, inputs)
    if task is Task.REGRESSION and metric in _REGRESSION:
        return _regression(metric, y_true, inputs)
    if task is Task.BINARY and metric == "roc_auc":
        return _roc_auc(y_true, inputs)
    if task in (Task.BINARY, Task.MULTICLASS) and metric in ("log_loss", "brier"):
        return _row_mean(_per_row_loss(metric, y_true, inputs))
    return None


def _per_row_loss(metric: str, y_true: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Each row's log loss or squared error; their mean over any rows is the metric on them.

    As scikit-learn: probabilities clipped to [eps, 1 - eps] before the log (eps of float64);
    binary inputs are the positive class's probability.
    """
    y = y_true.astype(np.int64)
    if probabilities.ndim == 1:
        probabilities = np.stack([1.0 - probabilities, probabilities], axis=1)
    if metric == "brier":  # binary only: (p - y)^2 on the positive class
        errors: np.ndarray = (probabilities[:, 1] - y) ** 2
        return errors
    eps = np.finfo(np.float64).eps
    clipped = np.clip(probabilities.astype(np.float64), eps, 1.0 - eps)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    losses: np.ndarray = -np.log(clipped[np.arange(len(y)), y])
    return losses


def _row_mean(values: np.ndarray) -> RowScorer:
    def score(rows: np.ndarray) -> float:
        return float(np.mean(values[rows]))

    return score


def _roc_auc(y_true: np.ndarray, scores: np.ndarray) -> RowScorer:
    """The Mann-Whitney form of ROC AUC (ties count one half); nan without both classes."""
    positive = y_true.astype(bool)

    def score(rows: np.ndarray) -> float:
        picked = positive[rows]
        n_positive = int(picked.sum())
        n_negative = len(rows) - n_positive
        if n_positive == 0 or n_negative == 0:
            return float("nan")
        ranks = rankdata(scores[rows])
        rank_sum = float(ranks[picked].sum())
        return (rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)

    return score


def _binary(
    formula: Callable[..., np.ndarray],
    params: Mapping[str, ParamValue],
    y_true: np.ndarray,
    labels: np.ndarray,
) -> RowScorer:
    # Each row falls in one confusion cell: 2 * truth + prediction (0 tn, 1 fp, 2 fn, 3 tp).
    cells = 2 * y_true.astype(np.int64) + labels.astype(np.int64)

    def score(rows: np.ndarray) -> float:
        tn, fp, fn, tp = np.bincount(cells[rows], minlength=4).astype(np.float64)[:, None]
        return float(formula(tp, fp, tn, fn, params)[0])

    return score


def _multiclass(metric: str, y_true: np.ndarray, labels: np.ndarray) -> RowScorer:
    n_classes = int(max(y_true.max(), labels.max())) + 1
    cells = y_true.astype(np.int64) * n_classes + labels.astype(np.int64)

    def score(rows: np.ndarray) -> float:
        matrix = np.bincount(cells[rows], minlength=n_classes**2).reshape(n_classes, n_classes)
        if metric == "accuracy":
            return float(np.trace(matrix) / len(rows))
        tp = np.diag(matrix).astype(np.float64)
        support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
        # scikit-learn averages over the classes present in the truth or the predictions.
        present = (support + predicted) > 0
        f1 = np.zeros(n_classes)
        denominator = support + predicted
        np.divide(2 * tp, denominator, out=f1, where=denominator > 0)
        if metric == "macro_f1":
            return float(f1[present].mean())
        return float(np.sum(f1 * support) / support.sum())

    return score


def _regression(metric: str, y_true: np.ndarray, values: np.ndarray) -> RowScorer:
    errors = values.astype(np.float64) - y_true.astype(np.float64)
    if metric == "mape":
        # scikit-learn divides by max(|y|, machine epsilon).
        errors = np.abs(errors) / np.maximum(np.abs(y_true), np.finfo(np.float64).eps)

    def score(rows: np.ndarray) -> float:
        picked = errors[rows]
        if metric in ("mae", "mape"):
            return float(np.mean(np.abs(picked)))
        mse = float(np.mean(picked**2))
        return mse if metric == "mse" else float(np.sqrt(mse))

    return score
