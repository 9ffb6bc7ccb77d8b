"""Choosing a binary decision threshold on validation data.

One sort and two cumulative sums give the confusion counts at every distinct score, for every
member of a population at once; the metric is then evaluated at every candidate cut-off from
those counts. The formulas below only rank cut-offs: the value reported for a finished trial is
always recomputed by the metric's scikit-learn function, and tests check that counts and formulas
agree with scikit-learn at every cut-off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from workers.engine.costs import binary_cost_counts
from workers.engine.metrics import Metric, ParamValue
from workers.engine.param_values import number

CountFormula = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.ndarray, Mapping[str, ParamValue]], np.ndarray
]


@dataclass(frozen=True)
class ThresholdCurve:
    """Confusion counts for the rule ``score >= cutoffs[i]``, for every useful cut-off."""

    cutoffs: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    tn: np.ndarray
    fn: np.ndarray


@dataclass(frozen=True)
class TunedThreshold:
    """The chosen cut-off and the metric's value there (computed by scikit-learn)."""

    threshold: float
    value: float


@dataclass(frozen=True)
class PopulationCurves:
    """Confusion counts at every position of each member's sorted scores, shape (M, N + 1).

    Column ``i`` predicts the ``i`` highest-scored examples positive (column 0: none). Only
    columns that end a run of tied scores (``valid``) are real cut-offs; ``cutoffs`` holds the
    cut-off value for each (midway between the two neighbouring scores where possible).
    """

    cutoffs: np.ndarray
    valid: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    tn: np.ndarray
    fn: np.ndarray


def population_curves(y_true: np.ndarray, scores: np.ndarray) -> PopulationCurves:
    """Counts at every cut-off of every member's scores, in one vectorised pass.

    ``scores`` has shape (M, N), ``y_true`` (N,) with 0/1 labels.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    n_members, n = scores.shape
    order = np.argsort(-scores, axis=1, kind="stable")
    ranked = np.take_along_axis(scores, order, axis=1)
    labels = np.asarray(y_true, dtype=np.float64)[order]
    zeros = np.zeros((n_members, 1))
    tp = np.concatenate([zeros, np.cumsum(labels, axis=1)], axis=1)
    fp = np.concatenate([zeros, np.cumsum(1.0 - labels, axis=1)], axis=1)
    positives = float(np.sum(y_true == 1))
    negatives = float(n) - positives
    # A cut after position i separates ranked[i - 1] from ranked[i]: only valid between
    # different scores. "Predict nothing" (column 0) and "predict all" (column n) always are.
    valid = np.ones((n_members, n + 1), dtype=bool)
    valid[:, 1:n] = ranked[:, :-1] > ranked[:, 1:]
    upper = np.concatenate([np.full((n_members, 1), np.inf), ranked], axis=1)
    lower = np.concatenate([ranked, np.full((n_members, 1), -np.inf)], axis=1)
    with np.errstate(invalid="ignore"):
        middle = (upper + lower) / 2.0
    # Midpoints keep the same partition of the data but generalise better than the scores
    # themselves; neighbouring doubles have no value between them, so keep the score then.
    cutoffs = np.where(np.isfinite(middle) & (middle > lower), middle, upper)
    cutoffs[:, 0] = np.nextafter(ranked[:, 0], np.inf)
    cutoffs[:, n] = ranked[:, -1]
    return PopulationCurves(cutoffs, valid, tp, fp, negatives - fp, positives - tp)


def threshold_curve(y_true: np.ndarray, scores: np.ndarray) -> ThresholdCurve:
    """Counts at every distinct score of one model, highest cut-off first."""
    curves = population_curves(y_true, np.asarray(scores, dtype=np.float64)[None, :])
    keep = curves.valid[0]
    return ThresholdCurve(
        curves.cutoffs[0][keep],
        curves.tp[0][keep],
        curves.fp[0][keep],
        curves.tn[0][keep],
        curves.fn[0][keep],
    )


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros_like(numerator, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _f1(tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray, _: object) -> np.ndarray:
    return _safe_divide(2 * tp, 2 * tp + fp + fn)


def _accuracy(
    tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray, _: object
) -> np.ndarray:
    return _safe_divide(tp + tn, tp + fp + tn + fn)


def _balanced_accuracy(
    tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray, _: object
) -> np.ndarray:
    return 0.5 * _safe_divide(tp, tp + fn) + 0.5 * _safe_divide(tn, tn + fp)


def _mcc(tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray, _: object) -> np.ndarray:
    denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return _safe_divide(tp * tn - fp * fn, denominator)


def _precision(
    tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray, _: object
) -> np.ndarray:
    return _safe_divide(tp, tp + fp)


def _recall(
    tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray, _: object
) -> np.ndarray:
    return _safe_divide(tp, tp + fn)


def _fbeta(
    tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray, params: Mapping[str, ParamValue]
) -> np.ndarray:
    beta2 = number(params, "beta") ** 2
    return _safe_divide((1 + beta2) * tp, (1 + beta2) * tp + beta2 * fn + fp)


def wilson_lower_bound(successes: np.ndarray, trials: np.ndarray, confidence: float) -> np.ndarray:
    """One-sided Wilson score lower bound of a binomial proportion at ``confidence`` (the
    observed proportion itself at 0.5; 0 where there are no trials)."""
    z = NormalDist().inv_cdf(confidence)
    n = np.maximum(trials, 1.0)
    p = successes / n
    centre = p + z * z / (2.0 * n)
    spread = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    lower: np.ndarray = np.where(trials > 0, (centre - spread) / (1.0 + z * z / n), 0.0)
    return lower


def _reaches_floor(
    successes: np.ndarray, trials: np.ndarray, floor: float, params: Mapping[str, ParamValue]
) -> np.ndarray:
    # The cut-off with the best objective among those that just reach the floor on validation
    # is the one most likely to have reached it by luck; asking the lower bound to reach it
    # leaves a margin that shrinks as the rows behind the estimate grow.
    confidence = number(params, "confidence", 0.5)
    return wilson_lower_bound(successes, trials, confidence) >= floor


def _precision_at_recall(
    tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray, params: Mapping[str, ParamValue]
) -> np.ndarray:
    precision = _safe_divide(tp, tp + fp)
    feasible = _reaches_floor(tp, tp + fn, number(params, "min_recall"), params)
    ranked: np.ndarray = np.where(feasible, precision, -1.0)
    return ranked


def _recall_at_precision(
    tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray, params: Mapping[str, ParamValue]
) -> np.ndarray:
    recall = _safe_divide(tp, tp + fn)
    # Infeasible cut-offs rank below every feasible one, including recall 0.
    feasible = _reaches_floor(tp, tp + fp, number(params, "min_precision"), params)
    ranked: np.ndarray = np.where(feasible, recall, -1.0)
    return ranked


COUNT_FORMULAS: dict[str, CountFormula] = {
    "precision": _precision,
    "recall": _recall,
    "f1": _f1,
    "fbeta": _fbeta,
    "precision_at_recall": _precision_at_recall,
    "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy,
    "mcc": _mcc,
    "recall_at_precision": _recall_at_precision,
    "expected_cost": binary_cost_counts,  # the one to minimise
}


def _oriented(metric: Metric, values: np.ndarray) -> np.ndarray:
    """``values`` signed so that larger is better: cut-offs are ranked by arg-max."""
    return values if metric.greater_is_better else -values


def tune_population_thresholds(
    metric: Metric, params: Mapping[str, ParamValue], y_true: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each member (row of ``scores``), the best cut-off and the metric there.

    The values come from the count formula (equal to scikit-learn's, see the tests); metrics
    without one are tuned member by member through scikit-learn.
    """
    formula = COUNT_FORMULAS.get(metric.name)
    if formula is None:
        tuned = [tune_threshold(metric, params, y_true, row) for row in np.atleast_2d(scores)]
        return np.array([t.threshold for t in tuned]), np.array([t.value for t in tuned])
    curves = population_curves(y_true, scores)
    values = formula(curves.tp, curves.fp, curves.tn, curves.fn, params)
    ranked = np.where(curves.valid, _oriented(metric, values), -np.inf)
    best = np.argmax(ranked, axis=1)
    rows = np.arange(len(best))
    return curves.cutoffs[rows, best], values[rows, best]


def tune_threshold(
    metric: Metric, params: Mapping[str, ParamValue], y_true: np.ndarray, scores: np.ndarray
) -> TunedThreshold:
    """The cut-off on ``scores`` that maximises ``metric`` on this data, and the value there."""
    scores = np.asarray(scores, dtype=np.float64)
    curve = threshold_curve(y_true, scores)
    formula = COUNT_FORMULAS.get(metric.name)
    if formula is not None:
        ranked = _oriented(metric, formula(curve.tp, curve.fp, curve.tn, curve.fn, params))
        best = int(np.argmax(ranked))
    else:
        best = _best_by_scoring(metric, params, y_true, scores, curve.cutoffs)
    threshold = float(curve.cutoffs[best])
    value = metric.score(y_true, (scores >= threshold).astype(np.int64), params)
    return TunedThreshold(threshold=threshold, value=value)


def _best_by_scoring(
    metric: Metric,
    params: Mapping[str, ParamValue],
    y_true: np.ndarray,
    scores: np.ndarray,
    cutoffs: np.ndarray,
    max_candidates: int = 128,
) -> int:
    """Fallback for metrics without a count formula: score a quantile grid of cut-offs."""
    picks = np.unique(
        np.linspace(0, len(cutoffs) - 1, min(max_candidates, len(cutoffs))).astype(int)
    )
    values = [metric.score(y_true, (scores >= cutoffs[i]).astype(np.int64), params) for i in picks]
    ranked = np.asarray(values) if metric.greater_is_better else -np.asarray(values)
    return int(picks[int(np.argmax(ranked))])


@dataclass(frozen=True)
class TunedLabelThresholds:
    """One cut-off per label and the metric's value with them (computed by scikit-learn)."""

    thresholds: tuple[float, ...]
    value: float


def tune_label_thresholds(
    metric: Metric, params: Mapping[str, ParamValue], y_true: np.ndarray, scores: np.ndarray
) -> TunedLabelThresholds:
    """Per-label cut-offs for a multilabel metric on hard labels.

    Each label's cut-off maximises that label's own F1 (its accuracy for ``hamming_loss``); this
    is exact for macro-F1 and Hamming loss, which decompose over labels, and a strong, cheap
    choice for the pooled and per-example metrics.
    """
    scores = np.asarray(scores, dtype=np.float64)
    per_label = _accuracy if metric.name == "hamming_loss" else _f1
    cutoffs = []
    for j in range(y_true.shape[1]):
        curve = threshold_curve(y_true[:, j], scores[:, j])
        ranked = per_label(curve.tp, curve.fp, curve.tn, curve.fn, params)
        cutoffs.append(float(curve.cutoffs[int(np.argmax(ranked))]))
    thresholds = tuple(cutoffs)
    labels = (scores >= np.asarray(thresholds)).astype(np.int64)
    return TunedLabelThresholds(thresholds, metric.score(y_true, labels, params))
