"""Turning a model's raw outputs on a split into the job's metric.

Classification models output logits: one per example (binary), one per class (multiclass) or one
per label (multilabel). Metrics on hard labels predict positive when ``logit >= threshold``, with
the threshold (one per label for multilabel) tuned on validation and only applied elsewhere; it
lives on the logit scale so saturated probabilities cannot create ties (``sigmoid(threshold)`` is
reported beside it). Multiclass labels are the arg-max of the logits plus per-class offsets,
tuned on validation like thresholds for the metrics that weigh classes (macro F1, weighted F1,
balanced accuracy) and 0 otherwise; the offsets travel as the run's ``threshold``. The cost
metric (``expected_cost``) decides by Bayes' rule under its cost matrix instead, with its
multiclass offsets on the expected costs (see :mod:`workers.engine.costs`). Regression
outputs are in standardised units (or log units for losses with a log link) and are converted
back to the target's units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, softmax

from workers.engine.class_offsets import decide, tune_class_offsets
from workers.engine.costs import cost_array, cost_decisions, tune_cost_offsets
from workers.engine.datasets import PreparedData, Split
from workers.engine.metrics import Metric, Needs, ParamValue
from workers.engine.resampled_scores import resampled_scorer
from workers.engine.spec import Task
from workers.engine.thresholds import (
    tune_label_thresholds,
    tune_population_thresholds,
    tune_threshold,
)

Threshold = float | tuple[float, ...]
CONSTRAINED = frozenset({"recall_at_precision", "precision_at_recall"})
COST_METRIC = "expected_cost"
IDENTITY, LOG = "identity", "log"


class DegenerateOutputs(Exception):
    """The model's outputs cannot be scored meaningfully (diverged or collapsed)."""


@dataclass(frozen=True)
class Score:
    """A metric value and, for threshold-dependent metrics, the threshold(s) behind it."""

    value: float
    threshold: Threshold | None = None


class Evaluator:
    """Scores outputs on the job's metric: thresholds tuned on validation, applied elsewhere."""

    def __init__(
        self, metric: Metric, params: Mapping[str, ParamValue], data: PreparedData
    ) -> None:
        self.metric = metric
        self.params = dict(params)
        self.data = data
        self.tunes_threshold = metric.depends_on_threshold(data.task)
        # Multiclass decisions by expected cost: offsets shift costs, not logits.
        self.costs = cost_array(self.params) if metric.name == COST_METRIC else None

    @property
    def decision_on_logits(self) -> bool:
        """Whether a run's tuned threshold or offsets apply to its logits, so that another label
        metric may reuse them; the cost metric's multiclass offsets shift expected costs."""
        return self.costs is None or self.data.task is not Task.MULTICLASS

    def better(self, candidate: float, incumbent: float | None) -> bool:
        """Whether ``candidate`` beats ``incumbent`` in the metric's direction."""
        if incumbent is None:
            return True
        return candidate > incumbent if self.metric.greater_is_better else candidate < incumbent

    def score_validation(self, outputs: np.ndarray, link: str = IDENTITY) -> Score:
        """The validation metric, with thresholds tuned here when the metric needs them."""
        check_outputs(outputs)
        y_true = self.data.validation.y_true
        if self.costs is not None and self.data.task is Task.MULTICLASS:
            offsets, value = tune_cost_offsets(self.costs, y_true, outputs)
            return Score(value, offsets)
        if self.tunes_threshold and self.data.task is Task.MULTICLASS:
            tuned_offsets = tune_class_offsets(self.metric.name, y_true, outputs)
            return Score(tuned_offsets.value, tuned_offsets.offsets)
        if self.tunes_threshold and self.data.task is Task.MULTILABEL:
            labels = tune_label_thresholds(self.metric, self.params, y_true, outputs)
            return Score(labels.value, labels.thresholds)
        if self.tunes_threshold:
            tuned = tune_threshold(self.metric, self.params, y_true, outputs)
            return Score(tuned.value, tuned.threshold)
        return Score(self._score(self.data.validation, outputs, None, link))

    def score_population(self, outputs: np.ndarray, links: list[str]) -> list[Score | str]:
        """Validation scores of a whole population at once: (M, N[, C]) outputs, one link each.

        Each entry is a :class:`Score`, or the reason the member's outputs are degenerate.
        Binary metrics on labels are tuned for every member in one vectorised pass, with values
        from the count formulas; :meth:`confirm` recomputes a member's final value with
        scikit-learn. Other metrics go member by member.
        """
        reasons = degeneracy(outputs)
        healthy = [m for m, reason in enumerate(reasons) if reason is None]
        scores: list[Score | str] = [reason or "" for reason in reasons]
        if not healthy:
            return scores
        if self.tunes_threshold and self.data.task is Task.BINARY:
            y_true = self.data.validation.y_true
            cutoffs, values = tune_population_thresholds(
                self.metric, self.params, y_true, outputs[healthy]
            )
            for m, cutoff, value in zip(healthy, cutoffs, values, strict=True):
                scores[m] = Score(float(value), float(cutoff))
            return scores
        for m in healthy:
            scores[m] = self.score_validation(outputs[m], links[m])
        return scores

    def single_class(self, outputs: np.ndarray, threshold: Threshold | None) -> bool:
        """Whether hard predictions on validation are all one class (a degenerate model).

        Checked for metrics on labels, except those with a constraint (recall at a precision,
        precision at a recall), for which predicting nothing is the metric's own answer when no
        threshold meets the constraint, and the cost metric, for which deciding one class for
        every row is the right answer under some costs (a miss that costs far more than an alarm).
        """
        task = self.data.task
        if not self.metric.on_labels or self.metric.name in CONSTRAINED | {COST_METRIC}:
            return False
        if task is Task.BINARY and threshold is not None and not isinstance(threshold, tuple):
            predicted = outputs >= threshold
        elif task is Task.MULTICLASS:
            predicted = decide(outputs, threshold)
        else:
            return False
        classes = np.unique(self.data.validation.y_true)
        return len(classes) > 1 and len(np.unique(predicted)) == 1

    def confirm(self, outputs: np.ndarray, threshold: Threshold | None, link: str) -> Score:
        """A member's validation score recomputed by scikit-learn at its chosen threshold."""
        value = self._score(self.data.validation, outputs, threshold, link)
        return Score(value, threshold)

    def scorer(
        self, split: Split, outputs: np.ndarray, threshold: Threshold | None, link: str = IDENTITY
    ) -> Callable[[np.ndarray], float]:
        """The metric on any subset of a split's rows (for resampling), inputs computed once."""
        inputs = self.metric_input(outputs, threshold, link)
        y_true = split.y_true
        fast = resampled_scorer(self.data.task, self.metric.name, self.params, y_true, inputs)
        if fast is not None:
            return fast

        def score(rows: np.ndarray) -> float:
            try:
                return self.metric.score(y_true[rows], inputs[rows], self.params)
            except ValueError:  # undefined on this subset (e.g. a single class drawn)
                return float("nan")

        return score

    def score_split(
        self, split: Split, outputs: np.ndarray, threshold: Threshold | None, link: str = IDENTITY
    ) -> float:
        """The metric on any split, applying thresholds chosen on validation."""
        check_outputs(outputs)
        if self.tunes_threshold and threshold is None:
            raise ValueError(f"metric {self.metric.name!r} needs the validation threshold")
        return self._score(split, outputs, threshold, link)

    def _score(
        self, split: Split, outputs: np.ndarray, threshold: Threshold | None, link: str
    ) -> float:
        return self.metric.score(
            split.y_true, self.metric_input(outputs, threshold, link), self.params
        )

    def metric_input(
        self, outputs: np.ndarray, threshold: Threshold | None, link: str = IDENTITY
    ) -> np.ndarray:
        """What the metric scores, from raw outputs: labels, scores, probabilities or values."""
        task, needs = self.data.task, self.metric.needs
        if task is Task.REGRESSION:
            return self.data.to_original_units(outputs, link)
        if task is Task.MULTICLASS:
            if needs is Needs.LABELS and self.costs is not None:
                return cost_decisions(outputs, self.costs, threshold)
            if needs is Needs.LABELS:
                return decide(outputs, threshold)
            return np.asarray(softmax(outputs, axis=-1))
        if needs is Needs.LABELS:
            assert threshold is not None
            return (outputs >= np.asarray(threshold)).astype(np.int64)
        if needs is Needs.PROBABILITIES:
            return np.asarray(expit(outputs))
        return outputs  # ranking metrics take the logits as scores


DIVERGED = (
    "diverged: the model's outputs became NaN or infinite (the loss or learning rate made "
    "training unstable)"
)
COLLAPSED = (
    "collapsed: the model gives every validation example the same output, so it predicts a "
    "single class or value"
)
SINGLE_CLASS = (
    "degenerate: at its best epoch the model predicts a single class for every validation example"
)


def degeneracy(outputs: np.ndarray) -> list[str | None]:
    """For each member (first axis), why its outputs cannot be scored, or None if they can."""
    flat = outputs.reshape(outputs.shape[0], outputs.shape[1], -1)
    finite = np.isfinite(flat).all(axis=(1, 2))
    reasons: list[str | None] = []
    for m in range(flat.shape[0]):
        if not finite[m]:
            reasons.append(DIVERGED)
            continue
        spread = np.ptp(flat[m], axis=0).max()
        scale = 1.0 + np.abs(flat[m]).max()
        reasons.append(COLLAPSED if spread <= 1e-9 * scale else None)
    return reasons


def check_outputs(outputs: np.ndarray) -> None:
    """Raise :class:`DegenerateOutputs` for non-finite or constant outputs of one model."""
    reason = degeneracy(outputs[None, ...])[0]
    if reason is not None:
        raise DegenerateOutputs(reason)
