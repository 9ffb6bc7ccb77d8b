"""Metric values on many subsets of one split's rows, cheaply: the bootstrap's inner loop.

A paired bootstrap scores every confirmation run of two arms on each of 500 resamples of the
validation and test rows: some 10,000 metric calls per job. scikit-learn's functions spend about
2.5 ms per call validating their inputs, which made the bootstrap most of a small job's
finalization. For the metrics below the value depends only on confusion counts or on a plain
mean, so this module computes it from those directly (microseconds per call). ROC AUC and
average precision come from the scores sorted once: a resample only reweights the rows (how many
times each was drawn), so each call is a few weighted counts instead of a sort. The calibration
error comes from per-bin sums of each row's gap between outcome and confidence, and the expected
cost from each row's cost, computed once.
Log loss and KL divergence are means of per-row values, soft targets included.
The formulas are scikit-learn's definitions (the calibration error's is
:func:`~workers.engine.metric_functions.calibration_pairs`'s), and
``tests/engine/test_resampled_scores.py`` checks them against the plain metric on many subsets,
including subsets that miss a class. Other metrics keep calling scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from workers.engine.costs import cost_array, row_costs
from workers.engine.metric_functions import (
    calibration_bins,
    calibration_pairs,
    cross_entropy_rows,
    kl_divergence_rows,
)
from workers.engine.metrics import ParamValue
from workers.engine.param_values import number
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
_REGRESSION = frozenset({"mae", "mse", "rmse", "mape", "r2"})


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
    if task is Task.MULTILABEL and metric == "micro_f1":  # F1 of all label decisions pooled
        return _binary(COUNT_FORMULAS["f1"], params, y_true, inputs)
    if task is Task.BINARY and metric in ("roc_auc", "pr_auc"):
        return _ranking(metric, y_true, inputs)
    if task is Task.MULTILABEL and metric == "macro_roc_auc":
        return _macro_roc_auc(y_true, inputs)
    if task in (Task.BINARY, Task.MULTICLASS) and metric == "expected_cost":
        return _row_mean(row_costs(y_true, inputs, cost_array(params)))
    if task in (Task.BINARY, Task.MULTICLASS) and metric in ("log_loss", "brier"):
        return _row_mean(_per_row_loss(metric, y_true, inputs))
    if task is Task.MULTICLASS and metric == "kl_divergence":
        return _row_mean(kl_divergence_rows(y_true, inputs))
    if task in (Task.BINARY, Task.MULTICLASS, Task.MULTILABEL) and metric == "ece":
        return _calibration_error(int(number(params, "bins")), y_true, inputs)
    return None


def _calibration_error(bins: int, y_true: np.ndarray, probabilities: np.ndarray) -> RowScorer:
    """ECE on any rows: (n_b / N) |acc_b - conf_b| is |sum over the bin of (hit - confidence)| / N.

    Each row's gaps are summed per bin once (multilabel rows hold one pair per label, and all of
    a drawn row's labels come with it); a resample then weights rows by how often it drew them.
    """
    confidence, hit = calibration_pairs(y_true, probabilities)
    n_rows = len(confidence)
    confidence, hit = confidence.reshape(n_rows, -1), hit.reshape(n_rows, -1)
    pairs_per_row = confidence.shape[1]
    cells = calibration_bins(confidence, bins) + bins * np.arange(n_rows)[:, None]
    per_row = np.bincount(
        cells.ravel(), weights=(hit - confidence).ravel(), minlength=n_rows * bins
    ).reshape(n_rows, bins)

    def score(rows: np.ndarray) -> float:
        drawn = np.bincount(rows, minlength=n_rows).astype(np.float64)
        return float(np.abs(drawn @ per_row).sum() / (len(rows) * pairs_per_row))

    return score


def _per_row_loss(metric: str, y_true: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Each row's log loss or squared error; their mean over any rows is the metric on them.

    As scikit-learn: probabilities clipped to [eps, 1 - eps] before the log (eps of float64);
    binary inputs are the positive class's probability. Soft targets (N x C distributions) give
    each row's cross-entropy against its distribution.
    """
    if probabilities.ndim == 1:
        probabilities = np.stack([1.0 - probabilities, probabilities], axis=1)
    if metric == "brier":  # binary only: (p - y)^2 on the positive class
        errors: np.ndarray = (probabilities[:, 1] - y_true.astype(np.int64)) ** 2
        return errors
    return cross_entropy_rows(y_true, probabilities)


def _row_mean(values: np.ndarray) -> RowScorer:
    def score(rows: np.ndarray) -> float:
        return float(np.mean(values[rows]))

    return score


class _Ranked:
    """One split's scores sorted once, highest first, ties grouped: each group is one distinct
    score (one threshold). A resample is then a weight per row, summed per group."""

    def __init__(self, y_true: np.ndarray, scores: np.ndarray) -> None:
        distinct, group = np.unique(-scores.astype(np.float64), return_inverse=True)
        self.n_rows, self.n_groups = len(scores), len(distinct)
        positive = y_true.astype(bool)
        # Positives in groups 0..G-1, negatives in groups G..2G-1: one bincount gives both.
        self.cells = group.ravel() + self.n_groups * (~positive).astype(np.int64)

    def counts(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Drawn positives and negatives per score group, highest score first."""
        per_cell = np.bincount(self.cells[rows], minlength=2 * self.n_groups).astype(np.float64)
        return per_cell[: self.n_groups], per_cell[self.n_groups :]


def _roc_auc_from(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Mann-Whitney: the share of (positive, negative) pairs ordered right, ties one half."""
    n_positive, n_negative = positives.sum(), negatives.sum()
    if n_positive == 0 or n_negative == 0:
        return float("nan")
    below = n_negative - np.cumsum(negatives)  # negatives scored strictly lower
    return float(np.sum(positives * (below + 0.5 * negatives)) / (n_positive * n_negative))


def _average_precision_from(positives: np.ndarray, negatives: np.ndarray) -> float:
    """scikit-learn's step sum: at each distinct score, recall gained times precision there.

    With no positive drawn, scikit-learn sets recall to one everywhere and returns 0.
    """
    n_positive = positives.sum()
    if n_positive == 0:
        return 0.0
    hits = positives > 0
    true_positives = np.cumsum(positives)[hits]
    predicted = np.cumsum(positives + negatives)[hits]
    return float(np.sum(positives[hits] / n_positive * true_positives / predicted))


def _ranking(metric: str, y_true: np.ndarray, scores: np.ndarray) -> RowScorer:
    """ROC AUC (nan without both classes) or average precision on any rows."""
    ranked = _Ranked(y_true, scores)
    formula = _roc_auc_from if metric == "roc_auc" else _average_precision_from

    def score(rows: np.ndarray) -> float:
        return formula(*ranked.counts(rows))

    return score


def _macro_roc_auc(y_true: np.ndarray, scores: np.ndarray) -> RowScorer:
    """Per-label ROC AUC averaged over the labels with both classes drawn; nan if none has."""
    labels = [_Ranked(y_true[:, j], scores[:, j]) for j in range(y_true.shape[1])]

    def score(rows: np.ndarray) -> float:
        values = [_roc_auc_from(*label.counts(rows)) for label in labels]
        defined = [value for value in values if not np.isnan(value)]
        return float(np.mean(defined)) if defined else float("nan")

    return score


def _binary(
    formula: Callable[..., np.ndarray],
    params: Mapping[str, ParamValue],
    y_true: np.ndarray,
    labels: np.ndarray,
) -> RowScorer:
    # Each decision falls in one confusion cell: 2 * truth + prediction (0 tn, 1 fp, 2 fn, 3 tp).
    # Multilabel rows hold one decision per label, pooled.
    cells = 2 * y_true.astype(np.int64) + labels.astype(np.int64)

    def score(rows: np.ndarray) -> float:
        counts = np.bincount(cells[rows].ravel(), minlength=4).astype(np.float64)
        tn, fp, fn, tp = counts[:, None]
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

    targets = y_true.astype(np.float64)

    def score(rows: np.ndarray) -> float:
        picked = errors[rows]
        if metric == "r2":
            return _r2(float(np.sum(picked**2)), targets[rows])
        if metric in ("mae", "mape"):
            return float(np.mean(np.abs(picked)))
        mse = float(np.mean(picked**2))
        return mse if metric == "mse" else float(np.sqrt(mse))

    return score


def _r2(squared_error: float, targets: np.ndarray) -> float:
    """1 - SSE / SST; as scikit-learn, 1.0 (perfect) or 0.0 when the targets drawn are constant,
    and nan for fewer than two rows."""
    if len(targets) < 2:
        return float("nan")
    spread = float(np.sum((targets - targets.mean()) ** 2))
    if spread == 0.0:
        return 1.0 if squared_error == 0.0 else 0.0
    return 1.0 - squared_error / spread
