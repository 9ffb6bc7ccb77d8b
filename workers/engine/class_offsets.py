"""Per-class logit offsets for multiclass decisions, tuned on validation.

A multiclass model predicts ``argmax_c (z_c + o_c)``. With every offset 0 that is the raw
arg-max, the Bayes decision for accuracy when the probabilities are calibrated; for metrics that
weigh classes equally (macro F1, balanced accuracy) the best decision favours rare classes, and
post-hoc offsets recover much of what a re-weighted loss would (Menon et al., Long-Tail Learning
via Logit Adjustment, ICLR 2021; Narasimhan & Menon, NeurIPS 2021). The offsets are the
multiclass counterpart of the binary threshold: tuned on validation for every trial, applied
unchanged to test.

Tuning is coordinate ascent: for one class at a time, every value of its offset that changes a
decision is tried at once (the rows switch to that class in the order of the gap to their best
rival), with the metric computed from per-class counts for each cut; a few sweeps over the
classes converge on validation sets of any size in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from workers.engine.decision_cuts import best_cut
from workers.engine.thresholds import COUNT_FORMULAS

# Counts per cut: true positives, predictions and support per class, each (cuts, C).
_CountMetric = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _per_class(
    formula: str, tp: np.ndarray, predicted: np.ndarray, support: np.ndarray
) -> np.ndarray:
    """A binary count formula of :mod:`workers.engine.thresholds` for each class one-vs-rest."""
    fp, fn = predicted - tp, support - tp
    scores: np.ndarray = COUNT_FORMULAS[formula](tp, fp, np.zeros_like(tp), fn, {})
    return scores


def _macro_f1(tp: np.ndarray, predicted: np.ndarray, support: np.ndarray) -> np.ndarray:
    # As scikit-learn: the mean over classes that occur in the labels or the predictions.
    present = (predicted + support) > 0
    f1 = _per_class("f1", tp, predicted, support)
    macro: np.ndarray = (f1 * present).sum(-1) / np.maximum(present.sum(-1), 1)
    return macro


def _weighted_f1(tp: np.ndarray, predicted: np.ndarray, support: np.ndarray) -> np.ndarray:
    f1 = _per_class("f1", tp, predicted, support)
    weighted: np.ndarray = (f1 * support).sum(-1) / np.maximum(support.sum(-1), 1.0)
    return weighted


def _balanced_accuracy(tp: np.ndarray, predicted: np.ndarray, support: np.ndarray) -> np.ndarray:
    # As scikit-learn: the mean recall over the classes that occur in the labels.
    present = support > 0
    recall = _per_class("recall", tp, predicted, support)
    balanced: np.ndarray = (recall * present).sum(-1) / np.maximum(present.sum(-1), 1)
    return balanced


COUNT_METRICS: dict[str, _CountMetric] = {
    "macro_f1": _macro_f1,
    "weighted_f1": _weighted_f1,
    "balanced_accuracy": _balanced_accuracy,
}
"""The multiclass metrics whose decisions are tuned with class offsets."""

_SWEEPS = 3


@dataclass(frozen=True)
class TunedOffsets:
    """Offsets (one per class, centred on 0) and the validation metric they reach."""

    offsets: tuple[float, ...]
    value: float


def decide(
    logits: np.ndarray, offsets: np.ndarray | tuple[float, ...] | float | None
) -> np.ndarray:
    """The predicted class of each row: ``argmax_c (logits_c + offsets_c)``; the raw arg-max
    when there are no offsets."""
    if offsets is None:
        return np.asarray(logits.argmax(axis=-1))
    return np.asarray((logits + np.asarray(offsets)).argmax(axis=-1))


def tune_class_offsets(metric: str, y_true: np.ndarray, logits: np.ndarray) -> TunedOffsets:
    """The per-class offsets that maximise ``metric`` (one of :data:`COUNT_METRICS`) on
    ``(y_true, logits)``, found by coordinate ascent from 0; the raw arg-max is kept unless an
    offset strictly improves on it."""
    score = COUNT_METRICS[metric]
    n_classes = logits.shape[1]
    labels = y_true.astype(np.int64)
    truth = np.eye(n_classes)[labels]  # (N, C)
    support = truth.sum(0)
    offsets = np.zeros(n_classes)
    best = float(_score_decisions(score, truth, support, decide(logits, offsets)))
    for _ in range(_SWEEPS):
        improved = False
        for c in range(n_classes):
            offset, value = best_offset(score, logits + offsets, c, truth, support)
            if value > best + 1e-12:
                offsets[c] += offset
                best, improved = value, True
        if not improved:
            break
    return TunedOffsets(tuple(float(o) for o in offsets - offsets.mean()), best)


def _score_decisions(
    score: _CountMetric, truth: np.ndarray, support: np.ndarray, predicted: np.ndarray
) -> float:
    chosen = np.eye(truth.shape[1])[predicted]
    tp, counts = (chosen * truth).sum(0), chosen.sum(0)
    return float(score(tp[None], counts[None], support[None])[0])


def best_offset(
    score: _CountMetric, adjusted: np.ndarray, c: int, truth: np.ndarray, support: np.ndarray
) -> tuple[float, float]:
    """The change of class ``c``'s offset that maximises the metric, and the value it reaches.

    Raising the offset by ``g`` switches row ``i`` to ``c`` once ``g`` exceeds ``gap_i``, the
    distance from its best rival's logit to its ``c`` logit; cut ``k`` gives ``c`` the ``k``
    rows with the smallest gaps and leaves the rest to their rivals.
    """
    n_rows, n_classes = adjusted.shape
    rivals = adjusted.copy()
    rivals[:, c] = -np.inf
    rival = rivals.argmax(axis=1)
    gap = rivals[np.arange(n_rows), rival] - adjusted[:, c]
    order = np.argsort(gap, kind="stable")
    gap, rival, truth_sorted = gap[order], rival[order], truth[order]

    to_rival = np.eye(n_classes)[rival]  # (N, C): the class each row falls back to
    # Cut k: rows [0, k) go to c, rows [k, N) to their rivals.
    moved = np.vstack([np.zeros(n_classes), np.cumsum(to_rival, 0)])  # (N + 1, C)
    moved_tp = np.vstack([np.zeros(n_classes), np.cumsum(to_rival * truth_sorted, 0)])
    predicted = to_rival.sum(0) - moved
    tp = (to_rival * truth_sorted).sum(0) - moved_tp
    predicted[:, c] = np.arange(n_rows + 1)
    tp[:, c] = np.concatenate([[0.0], np.cumsum(truth_sorted[:, c])])
    values = score(tp, predicted, np.broadcast_to(support, tp.shape))
    return best_cut(gap, values)
