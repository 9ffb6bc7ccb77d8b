"""What a catalogue entry says about a loss: its parameters, tasks, metrics and reference.

Torch-free on purpose: the API lists the catalogue and checks job specs against it without
loading torch. The code that builds each loss lives beside the torch modules
(:func:`workers.engine.losses.build.build_loss` finds it by the entry's name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from workers.engine.spec import Family, Task

IDENTITY_LINK, LOG_LINK = "identity", "log"

# Task groups the entries are declared for.
BINARY = frozenset({Task.BINARY})
MULTICLASS = frozenset({Task.MULTICLASS})
REGRESSION = frozenset({Task.REGRESSION})
SIGMOID_TASKS = frozenset({Task.BINARY, Task.MULTILABEL})  # decisions on one logit each
CLASSIFICATION = frozenset({Task.BINARY, Task.MULTICLASS, Task.MULTILABEL})


@dataclass(frozen=True)
class ParamSpec:
    """A searched loss parameter and the range the literature supports.

    Integer parameters are searched over integers; ``log`` samples on a log scale.
    """

    name: str
    low: float
    high: float
    default: float
    description: str
    log: bool = False
    integer: bool = False
    tasks: frozenset[Task] | None = None  # None: the parameter applies to every task of the loss

    def applies_to(self, task: Task) -> bool:
        """Whether the parameter is searched when the loss is used for ``task``."""
        return self.tasks is None or task in self.tasks


@dataclass(frozen=True)
class LossSpec:
    """A catalogue entry: what the loss is, where it comes from and what it searches.

    Attributes:
        name: unique identifier used in job specs and results, and the key of the loss's
            implementation.
        family: proxy, weighted or surrogate.
        tasks: the tasks the loss is defined for.
        summary: one line for people.
        reference: the paper or document that defines it.
        params: searched parameters with their ranges.
        serves: metric names this loss targets; ``None`` means any metric of its tasks.
        batch_level: the loss is a statistic of the whole batch (soft-F1, AUC, Lovász...), so
            the batch size is searched with it.
        link: ``identity``, or ``log`` when the model's output is the log of the prediction
            (regression losses such as Poisson NLL).
        soft_targets: the loss also trains on soft targets (multiclass rows whose target is a
            label distribution); losses that take hard class labels are left out of those jobs.
        soft_only: the loss is only searched on soft targets, because on hard labels it is
            exactly another entry (KL divergence to a one-hot row is cross-entropy).
    """

    name: str
    family: Family
    tasks: frozenset[Task]
    summary: str
    reference: str
    params: tuple[ParamSpec, ...] = field(default=())
    serves: frozenset[str] | None = None
    batch_level: bool = False
    link: str = IDENTITY_LINK
    soft_targets: bool = False
    soft_only: bool = False

    def fits_targets(self, soft: bool) -> bool:
        """Whether the loss can be searched on hard labels (``soft`` False) or on soft targets."""
        return self.soft_targets if soft else not self.soft_only

    def params_for(self, task: Task) -> tuple[ParamSpec, ...]:
        """The parameters searched when the loss is used for ``task``."""
        return tuple(p for p in self.params if p.applies_to(task))

    def serves_metric(self, metric: str, params: Mapping[str, object] | None = None) -> bool:
        """Whether the loss is in ``metric``'s default search space (its tasks permitting),
        given the metric's parameters (defaults when None)."""
        return self.serves is None or served_as(metric, params or {}) in self.serves


# jaccard's default average (workers.engine.metrics declares it; a test keeps the two equal).
JACCARD_DEFAULT_AVERAGE = "samples"


def served_as(metric: str, params: Mapping[str, object]) -> str:
    """The name under which a loss's ``serves`` lists ``metric`` with ``params``.

    The metric's name, except where a parameter changes which losses suit it: jaccard averaged
    per label (``average="macro"``) is ``jaccard``, the mean of per-column scores that the
    overlap and Lovász losses optimise; averaged per example (the default) it is
    ``jaccard_samples``, a different target.
    """
    if metric == "jaccard":
        average = str(params.get("average", JACCARD_DEFAULT_AVERAGE))
        return metric if average == "macro" else f"{metric}_{average}"
    return metric
