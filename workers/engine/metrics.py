"""The metric catalogue. scikit-learn does every metric's arithmetic but the calibration error's
and the expected cost's (:mod:`workers.engine.costs`).

Each metric declares the tasks it applies to, its direction, its parameters, what it scores
(:class:`Needs`) and therefore whether it depends on a decision threshold: binary and multilabel
metrics on hard labels do, and the threshold is chosen on validation by
:mod:`workers.engine.thresholds`. Metrics on probabilities where calibration matters get a
temperature fitted on validation instead (:mod:`workers.engine.temperature`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from workers.engine.costs import check_cost_size, parse_cost_matrix
from workers.engine.errors import SpecError
from workers.engine.metric_functions import SCORERS
from workers.engine.param_values import ParamValue as ParamValue  # where evaluators import it
from workers.engine.spec import MetricRef, Task

# Multiclass metrics that weigh classes apart from their frequency: their decisions are tuned
# with per-class logit offsets (workers.engine.class_offsets computes each from counts).
OFFSET_TUNED = frozenset({"macro_f1", "weighted_f1", "balanced_accuracy"})

# Metrics on probabilities where calibration matters: a temperature dividing the logits is
# fitted on validation for each trial (workers.engine.temperature), in every task they apply to
# but regression. Ranking metrics and top-k accuracy are unchanged by any temperature.
TEMPERATURE_TUNED = frozenset({"log_loss", "brier", "ece"})

# Metrics that score probabilities against the target distribution itself when the job has soft
# targets (multiclass rows that are label distributions); every other metric scores the arg-max
# class of such rows (see Evaluator.truth).
AGAINST_DISTRIBUTION = frozenset({"log_loss", "kl_divergence"})

# The cost metric's multiclass decisions are tuned with offsets on expected costs instead
# (workers.engine.costs).
COST_TUNED = frozenset({"expected_cost"})


class Direction(StrEnum):
    """Whether larger or smaller metric values are better."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


class Needs(StrEnum):
    """What a metric scores.

    LABELS: hard predictions (binary and multilabel from tuned thresholds, multiclass arg-max).
    SCORES: ranking scores (binary logits, multilabel logits per label).
    PROBABILITIES: sigmoid / softmax probabilities.
    VALUES: regression predictions in the target's units.
    """

    LABELS = "labels"
    SCORES = "scores"
    PROBABILITIES = "probabilities"
    VALUES = "values"


@dataclass(frozen=True)
class MetricParam:
    """A parameter of a metric: numeric with inclusive bounds, one of ``choices``, or a square
    cost matrix (``matrix``). A parameter without a default (``None``) must be given."""

    name: str
    default: ParamValue | None
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    integer: bool = False
    # Set when the value must stay below the number of classes; says what happens otherwise.
    below_n_classes: str | None = None
    # A C x C matrix, one row and column per class (checked by workers.engine.costs).
    matrix: bool = False

    def resolve(self, metric: str, value: object) -> ParamValue:
        """Check ``value`` against this parameter; return it normalised, or raise SpecError."""
        if value is None:
            raise SpecError(
                f"metric {metric!r} needs the parameter {self.name!r}: {self.description}"
            )
        if self.matrix:
            return parse_cost_matrix(value, f"metric parameter {self.name} of {metric!r}")
        if self.choices is not None:
            if value not in self.choices:
                raise SpecError(
                    f"metric parameter {self.name}={value!r} of {metric!r} must be one of "
                    f"{list(self.choices)}"
                )
            return str(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"metric parameter {self.name} of {metric!r} must be a number")
        number = float(value)
        if self.integer and not number.is_integer():
            raise SpecError(f"metric parameter {self.name} of {metric!r} must be an integer")
        assert self.low is not None
        assert self.high is not None
        if not self.low <= number <= self.high:
            raise SpecError(
                f"metric parameter {self.name}={value} is out of range "
                f"[{self.low}, {self.high}]: {self.description}"
            )
        return number

    def check_classes(self, metric: str, value: ParamValue, n_classes: int) -> None:
        """Refuse a value that makes the metric meaningless for ``n_classes`` classes."""
        if self.matrix and isinstance(value, tuple):
            check_cost_size(value, n_classes, f"metric parameter {self.name} of {metric!r}")
            return
        if isinstance(value, tuple):
            return
        if self.below_n_classes is not None and float(value) >= n_classes:
            raise SpecError(
                f"metric parameter {self.name}={float(value):g} of {metric!r} must be below "
                f"the number of classes: the target has {n_classes} classes, and with "
                f"{self.name} >= {n_classes} {self.below_n_classes}"
            )


# (y_true, predictions, params) -> value
ScoreFn = Callable[[np.ndarray, np.ndarray, Mapping[str, ParamValue]], float]


@dataclass(frozen=True)
class Metric:
    """One metric: what it applies to, what it scores, and which scikit-learn function does it."""

    name: str
    tasks: frozenset[Task]
    direction: Direction
    needs: Needs
    description: str
    params: tuple[MetricParam, ...] = field(default=())
    scorer: ScoreFn | None = None  # defaults to SCORERS[name]

    @property
    def greater_is_better(self) -> bool:
        return self.direction is Direction.MAXIMIZE

    @property
    def on_labels(self) -> bool:
        return self.needs is Needs.LABELS

    def depends_on_threshold(self, task: Task) -> bool:
        """Whether the decision rule is tuned on validation: thresholds (binary, multilabel) or
        per-class offsets (multiclass metrics that weigh classes, on the logits, see
        :mod:`workers.engine.class_offsets`; the cost metric, on the expected costs, see
        :mod:`workers.engine.costs`)."""
        if not self.on_labels or task not in self.tasks:
            return False
        if task is Task.MULTICLASS:
            return self.name in OFFSET_TUNED | COST_TUNED
        return task in (Task.BINARY, Task.MULTILABEL)

    def tunes_temperature(self, task: Task) -> bool:
        """Whether the probabilities are temperature-scaled, with the temperature fitted on
        validation (see :mod:`workers.engine.temperature`)."""
        return self.name in TEMPERATURE_TUNED and task in self.tasks and task is not Task.REGRESSION

    def score(
        self, y_true: np.ndarray, predictions: np.ndarray, params: Mapping[str, ParamValue]
    ) -> float:
        """The metric's value, computed by scikit-learn."""
        scorer = self.scorer or SCORERS[self.name]
        return scorer(y_true, predictions, params)

    def resolve_params(self, given: Mapping[str, object]) -> dict[str, ParamValue]:
        """The metric's parameters with defaults filled in, or SpecError naming the offender."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise SpecError(
                f"metric {self.name!r} has no parameter {unknown[0]!r} (its parameters: {allowed})"
            )
        return {
            name: param.resolve(self.name, given.get(name, param.default))
            for name, param in known.items()
        }


_B = frozenset({Task.BINARY})
_C = frozenset({Task.MULTICLASS})
_BC = frozenset({Task.BINARY, Task.MULTICLASS})
_L = frozenset({Task.MULTILABEL})
_CL = frozenset({Task.MULTICLASS, Task.MULTILABEL})
_BCL = _BC | _L
_R = frozenset({Task.REGRESSION})
_UP, _DOWN = Direction.MAXIMIZE, Direction.MINIMIZE
_LABELS, _SCORES, _PROBS, _VALUES = Needs.LABELS, Needs.SCORES, Needs.PROBABILITIES, Needs.VALUES

_BETA = MetricParam("beta", 1.0, "weight of recall relative to precision", low=0.01, high=100.0)
_MIN_PRECISION = MetricParam(
    "min_precision", 0.9, "the precision the threshold must reach", low=0.01, high=0.999
)
_MIN_RECALL = MetricParam(
    "min_recall", 0.9, "the recall the threshold must reach", low=0.01, high=0.999
)
_CONFIDENCE = MetricParam(
    "confidence",
    0.9,
    "how sure the threshold must be of its floor: the one-sided Wilson lower bound of the "
    "constrained quantity on validation, at this confidence, must reach the floor (0.5: the "
    "observed value reaching it is enough)",
    low=0.5,
    high=0.999,
)
_K = MetricParam(
    "k",
    2,
    "a prediction counts if the true class is among the top k",
    low=1,
    high=100,
    integer=True,
    below_n_classes="every prediction counts, so the metric is always 1.0",
)
_WEIGHTS = MetricParam(
    "weights",
    "quadratic",
    "disagreement weights for ordinal classes",
    choices=("linear", "quadratic"),
)
_AVERAGE = MetricParam(
    "average", "samples", "how to average over labels", choices=("samples", "macro")
)
_BINS = MetricParam(
    "bins", 15, "equal-width confidence bins over [0, 1]", low=5, high=100, integer=True
)
_COSTS = MetricParam(
    "costs",
    None,
    "a C x C cost matrix, rows = true class, columns = decided class (classes in sorted order; "
    "binary: [[c00, c01], [c10, c11]]): finite, non-negative, each row's diagonal its smallest "
    "entry, some wrong decision costing more than the right one; required",
    matrix=True,
)
_QUANTILE = MetricParam("quantile", 0.5, "the quantile the prediction targets", low=0.01, high=0.99)

_CATALOGUE: tuple[Metric, ...] = (
    # binary
    Metric("accuracy", _BC, _UP, _LABELS, "Fraction of correct predictions."),
    Metric("balanced_accuracy", _BC, _UP, _LABELS, "Mean recall over classes."),
    Metric("precision", _B, _UP, _LABELS, "Precision of the positive class."),
    Metric("recall", _B, _UP, _LABELS, "Recall of the positive class."),
    Metric("f1", _B, _UP, _LABELS, "F1 score of the positive class."),
    Metric("fbeta", _B, _UP, _LABELS, "F-beta score of the positive class.", (_BETA,)),
    Metric("mcc", _BC, _UP, _LABELS, "Matthews correlation coefficient."),
    Metric("roc_auc", _B, _UP, _SCORES, "Area under the ROC curve."),
    Metric(
        "pr_auc", _B, _UP, _SCORES, "Area under the precision-recall curve (average precision)."
    ),
    Metric(
        "recall_at_precision",
        _B,
        _UP,
        _LABELS,
        "Recall at the threshold with the best validation recall among those whose precision "
        "reaches min_precision with the given confidence on validation.",
        (_MIN_PRECISION, _CONFIDENCE),
    ),
    Metric(
        "precision_at_recall",
        _B,
        _UP,
        _LABELS,
        "Precision at the threshold with the best validation precision among those whose "
        "recall reaches min_recall with the given confidence on validation.",
        (_MIN_RECALL, _CONFIDENCE),
    ),
    Metric(
        "log_loss",
        _BC,
        _DOWN,
        _PROBS,
        "Cross-entropy of the predicted probabilities; with soft targets, against each row's "
        "label distribution.",
    ),
    Metric("brier", _B, _DOWN, _PROBS, "Mean squared error of the positive-class probability."),
    Metric(
        "ece",
        _BCL,
        _DOWN,
        _PROBS,
        "Expected calibration error: over equal-width confidence bins, the row-weighted mean of "
        "|observed frequency - mean confidence|. Binary: the positive-class probability against "
        "the fraction of positives; multiclass: the top-label probability against the accuracy "
        "of the arg-max (Guo et al. 2017); multilabel: every (example, label) pair pooled as "
        "binary.",
        (_BINS,),
    ),
    Metric(
        "expected_cost",
        _BC,
        _DOWN,
        _LABELS,
        "Mean cost of the decisions under the cost matrix `costs`. The decision is Bayes' rule "
        "on the predicted probabilities, argmin_j sum_i p(i|x) costs[i][j], tuned on validation "
        "to correct mis-calibration (binary: the threshold on the logit; multiclass: per-class "
        "offsets on the expected costs) and applied unchanged to test.",
        (_COSTS,),
    ),
    # multiclass
    Metric("macro_f1", _CL, _UP, _LABELS, "Unweighted mean of per-class (per-label) F1."),
    Metric("weighted_f1", _C, _UP, _LABELS, "Per-class F1 averaged with class frequencies."),
    Metric("top_k_accuracy", _C, _UP, _PROBS, "Fraction with the true class in the top k.", (_K,)),
    Metric(
        "kl_divergence",
        _C,
        _DOWN,
        _PROBS,
        "Mean KL(target || predicted) over rows: the log loss minus the entropy of the target "
        "distribution, so 0 for a perfect fit whatever the annotators' disagreement. Meant for "
        "soft targets; on hard labels it equals log_loss.",
    ),
    Metric(
        "cohen_kappa",
        _C,
        _UP,
        _LABELS,
        "Cohen's kappa; linear or quadratic weights treat classes as ordered.",
        (_WEIGHTS,),
    ),
    # multilabel
    Metric("micro_f1", _L, _UP, _LABELS, "F1 over all label decisions pooled."),
    Metric("samples_f1", _L, _UP, _LABELS, "F1 of each example's label set, averaged."),
    Metric("jaccard", _L, _UP, _LABELS, "Jaccard index (intersection over union).", (_AVERAGE,)),
    Metric("hamming_loss", _L, _DOWN, _LABELS, "Fraction of wrong label decisions."),
    Metric("subset_accuracy", _L, _UP, _LABELS, "Fraction of examples with every label right."),
    Metric(
        "macro_roc_auc",
        _L,
        _UP,
        _SCORES,
        "ROC AUC per label, averaged over the labels that have both classes in the split.",
    ),
    # regression
    Metric("mae", _R, _DOWN, _VALUES, "Mean absolute error."),
    Metric("mse", _R, _DOWN, _VALUES, "Mean squared error."),
    Metric("rmse", _R, _DOWN, _VALUES, "Root mean squared error."),
    Metric("mape", _R, _DOWN, _VALUES, "Mean absolute percentage error (a fraction: 0.1 is 10%)."),
    Metric("r2", _R, _UP, _VALUES, "Coefficient of determination."),
    Metric("median_ae", _R, _DOWN, _VALUES, "Median absolute error."),
    Metric("pinball", _R, _DOWN, _VALUES, "Mean pinball (quantile) loss.", (_QUANTILE,)),
    Metric(
        "poisson_deviance",
        _R,
        _DOWN,
        _VALUES,
        "Mean Poisson deviance (non-negative targets; predictions clipped to at least 1e-9).",
    ),
    Metric(
        "msle",
        _R,
        _DOWN,
        _VALUES,
        "Mean squared logarithmic error, mean (log(1 + y) - log(1 + prediction))^2: relative "
        "errors, for non-negative targets such as counts and amounts (predictions clipped at 0).",
    ),
    Metric("rmsle", _R, _DOWN, _VALUES, "Root of the mean squared logarithmic error (msle)."),
)

METRICS: dict[str, Metric] = {metric.name: metric for metric in _CATALOGUE}


def get_metric(name: str) -> Metric:
    """The metric called ``name``, or SpecError listing the valid names."""
    try:
        return METRICS[name]
    except KeyError:
        raise SpecError(
            f"unknown metric {name!r}; valid metrics are: {', '.join(sorted(METRICS))}"
        ) from None


def metrics_for(task: Task) -> list[str]:
    """Names of the metrics that apply to ``task``."""
    return sorted(name for name, metric in METRICS.items() if task in metric.tasks)


def check_metric_fits(
    ref: MetricRef, task: Task, n_classes: int | None = None
) -> dict[str, ParamValue]:
    """Check that ``ref`` names a metric for ``task``; return its resolved parameters.

    With ``n_classes`` (the target's classes, when known) parameters bounded by the number of
    classes, such as top_k_accuracy's ``k``, are checked too.
    """
    metric = get_metric(ref.name)
    if task not in metric.tasks:
        raise SpecError(
            f"metric {ref.name!r} does not apply to a {task.value} task; metrics for "
            f"{task.value} are: {', '.join(metrics_for(task))}"
        )
    resolved = metric.resolve_params(ref.params)
    if n_classes is not None:
        for param in metric.params:
            param.check_classes(metric.name, resolved[param.name], n_classes)
    return resolved
