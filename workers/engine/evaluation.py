"""Turning a model's raw outputs on a split into the job's metric.

Classification models output logits: one per example (binary), one per class (multiclass) or one
per label (multilabel). Metrics on hard labels predict positive when ``logit >= threshold``, with
the threshold (one per label for multilabel) tuned on validation and only applied elsewhere; it
lives on the logit scale so saturated probabilities cannot create ties (``sigmoid(threshold)`` is
reported beside it). Multiclass labels are the arg-max of the logits plus per-class offsets,
tuned on validation like thresholds for the metrics that weigh classes (macro F1, weighted F1,
balanced accuracy) and 0 otherwise; the offsets travel as the run's ``threshold``. Metrics on
probabilities where calibration matters (log loss, Brier score, calibration error) divide the
logits by a temperature before the sigmoid or softmax, fitted on validation and only applied
elsewhere like a threshold (:mod:`workers.engine.temperature`); it travels apart from the
threshold, as the run's ``temperature``, because other metrics of the same run (guardrails) use
the threshold as a decision and the temperature as a calibration. The cost
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
from workers.engine.metrics import AGAINST_DISTRIBUTION, Metric, Needs, ParamValue
from workers.engine.resampled_scores import resampled_scorer
from workers.engine.spec import Task
from workers.engine.temperature import (
    apply_temperature,
    fit_temperature,
    fit_temperatures,
    fits_on_metric,
)
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
    """A metric value and, for threshold-dependent metrics, the threshold(s) behind it; for
    temperature-scaled metrics, the temperature dividing the logits (None: no scaling)."""

    value: float
    threshold: Threshold | None = None
    temperature: float | None = None


class Evaluator:
    """Scores outputs on the job's metric: thresholds and temperatures tuned on validation,
    applied elsewhere."""

    def __init__(
        self, metric: Metric, params: Mapping[str, ParamValue], data: PreparedData
    ) -> None:
        self.metric = metric
        self.params = dict(params)
        self.data = data
        self.tunes_threshold = metric.depends_on_threshold(data.task)
        # The temperature is fitted against hard labels: where a job with soft targets is scored
        # against the distributions (log loss), it is left unscaled rather than fitted to the
        # wrong truth.
        against_distribution = data.soft_targets and metric.name in AGAINST_DISTRIBUTION
        self.tunes_temperature = metric.tunes_temperature(data.task) and not against_distribution
        # Multiclass decisions by expected cost: offsets shift costs, not logits.
        self.costs = cost_array(self.params) if metric.name == COST_METRIC else None
        # Multiclass decisions on labels: per-class logit offsets, tuned on validation.
        self.tunes_class_offsets = (
            self.tunes_threshold
            and data.task is Task.MULTICLASS
            and self.costs is None
            and not self.tunes_temperature
        )

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
        """The validation metric, with thresholds (or the temperature) tuned here when the
        metric needs them."""
        check_outputs(outputs)
        y_true = self.data.validation.y_true
        if self.tunes_temperature:
            fitted = fit_temperature(self.metric.name, self.data.task, y_true, outputs)
            return self._calibrated(outputs, fitted)
        if self.costs is not None and self.data.task is Task.MULTICLASS:
            offsets, value = tune_cost_offsets(self.costs, y_true, outputs)
            return Score(value, offsets)
        if self.tunes_class_offsets:
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
        scikit-learn. Temperatures are fitted for every member in one
        vectorised search, then each member is scored at its own. Other metrics go member by
        member (multiclass class offsets too: tuned for a whole population at once, with the
        same results, they took 385 ms against 286 ms member by member for 32 members and
        1,287 validation rows, as the arrays, not the calls, cost the time).
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
        if self.tunes_temperature:
            return self._calibrated_population(outputs, healthy, scores)
        for m in healthy:
            scores[m] = self.score_validation(outputs[m], links[m])
        return scores

    def _calibrated_population(
        self, outputs: np.ndarray, healthy: list[int], scores: list[Score | str]
    ) -> list[Score | str]:
        name, y_true = self.metric.name, self.data.validation.y_true
        fitted = fit_temperatures(name, self.data.task, y_true, outputs[healthy])
        for position, m in enumerate(healthy):
            temperature = float(fitted.temperatures[position])
            if fits_on_metric(name):
                # The fit's own value of the metric ranks members and epochs; confirm()
                # recomputes the best epoch's with scikit-learn (as for thresholds).
                scores[m] = Score(float(fitted.value[position]), temperature=temperature)
            else:
                scores[m] = self._calibrated(outputs[m], temperature)
        return scores

    def _calibrated(self, outputs: np.ndarray, temperature: float) -> Score:
        value = self._score(self.data.validation, outputs, None, IDENTITY, temperature)
        return Score(value, temperature=temperature)

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

    def confirm(
        self,
        outputs: np.ndarray,
        threshold: Threshold | None,
        link: str,
        temperature: float | None = None,
    ) -> Score:
        """A member's validation score recomputed by scikit-learn at its chosen threshold
        (and temperature)."""
        value = self._score(self.data.validation, outputs, threshold, link, temperature)
        return Score(value, threshold, temperature)

    def scorer(
        self,
        split: Split,
        outputs: np.ndarray,
        threshold: Threshold | None,
        link: str = IDENTITY,
        temperature: float | None = None,
    ) -> Callable[[np.ndarray], float]:
        """The metric on any subset of a split's rows (for resampling), inputs computed once."""
        inputs = self.metric_input(outputs, threshold, link, temperature)
        return self.inputs_scorer(self.truth(split), inputs)

    def inputs_scorer(
        self, y_true: np.ndarray, inputs: np.ndarray
    ) -> Callable[[np.ndarray], float]:
        """The metric on any subset of rows whose metric inputs (see :meth:`metric_input`) are
        already computed, against ``y_true`` (see :meth:`truth`): e.g. out-of-fold predictions
        pooled from several models."""
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
        self,
        split: Split,
        outputs: np.ndarray,
        threshold: Threshold | None,
        link: str = IDENTITY,
        temperature: float | None = None,
    ) -> float:
        """The metric on any split, applying the threshold or temperature chosen on validation."""
        check_outputs(outputs)
        if self.tunes_threshold and threshold is None:
            raise ValueError(f"metric {self.metric.name!r} needs the validation threshold")
        if self.tunes_temperature and temperature is None:
            # No scaling is T = 1, and must be asked for: forgetting the fitted temperature
            # would silently report uncalibrated numbers.
            raise ValueError(f"metric {self.metric.name!r} needs the validation temperature")
        return self._score(split, outputs, threshold, link, temperature)

    def _score(
        self,
        split: Split,
        outputs: np.ndarray,
        threshold: Threshold | None,
        link: str,
        temperature: float | None = None,
    ) -> float:
        inputs = self.metric_input(outputs, threshold, link, temperature)
        return self.metric.score(self.truth(split), inputs, self.params)

    def truth(self, split: Split) -> np.ndarray:
        """What the metric compares against on ``split``: ``y_true``, except that metrics scoring
        probabilities against a distribution (log loss, KL divergence) get the soft targets
        themselves when the job has them; hard-label metrics keep the arg-max class."""
        if self.data.soft_targets and self.metric.name in AGAINST_DISTRIBUTION:
            return np.asarray(split.y, dtype=np.float64)
        return split.y_true

    def metric_input(
        self,
        outputs: np.ndarray,
        threshold: Threshold | None,
        link: str = IDENTITY,
        temperature: float | None = None,
    ) -> np.ndarray:
        """What the metric scores, from raw outputs: labels, scores, probabilities or values.

        ``temperature`` divides the logits before the sigmoid or softmax of metrics on
        probabilities; labels (decided by the raw logits and ``threshold``) and ranking scores
        do not depend on it.
        """
        task, needs = self.data.task, self.metric.needs
        if task is Task.REGRESSION:
            return self.data.to_original_units(outputs, link)
        if task is Task.MULTICLASS:
            if needs is Needs.LABELS and self.costs is not None:
                return cost_decisions(outputs, self.costs, threshold)
            if needs is Needs.LABELS:
                return decide(outputs, threshold)
            return np.asarray(softmax(apply_temperature(outputs, temperature), axis=-1))
        if needs is Needs.LABELS:
            assert threshold is not None
            return (outputs >= np.asarray(threshold)).astype(np.int64)
        if needs is Needs.PROBABILITIES:
            return np.asarray(expit(apply_temperature(outputs, temperature)))
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
