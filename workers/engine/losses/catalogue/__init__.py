"""Every loss the search can use, by name, and which of them fit a task and a metric.

Torch-free: the API reads it. Each entry's implementation is found by name on the torch side
(:func:`workers.engine.losses.build.build_loss`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from workers.engine.errors import SpecError
from workers.engine.losses.catalogue.entry import LossSpec
from workers.engine.losses.catalogue.mixture import mixture_of
from workers.engine.losses.catalogue.proxy import PROXY_LOSSES
from workers.engine.losses.catalogue.surrogate import SURROGATE_LOSSES
from workers.engine.losses.catalogue.weighted import WEIGHTED_LOSSES
from workers.engine.spec import Family, Task


def _by_name(specs: Iterable[LossSpec]) -> dict[str, LossSpec]:
    # A name is the key of a loss everywhere (job specs, results, implementations): a second
    # entry under the same name would silently replace the first.
    index: dict[str, LossSpec] = {}
    for spec in specs:
        if spec.name in index:
            raise ValueError(f"the loss catalogue declares {spec.name!r} twice")
        index[spec.name] = spec
    return index


LOSSES: dict[str, LossSpec] = _by_name(
    (
        *PROXY_LOSSES,
        *WEIGHTED_LOSSES,
        *SURROGATE_LOSSES,
        *(mixture_of(surrogate) for surrogate in SURROGATE_LOSSES),
    )
)

# The plain loss every job evaluates as its baseline.
BASELINE_LOSS = {
    Task.BINARY: "cross_entropy",
    Task.MULTICLASS: "cross_entropy",
    Task.MULTILABEL: "cross_entropy",
    Task.REGRESSION: "mse",
}


def get_loss(name: str) -> LossSpec:
    """The catalogue entry called ``name``, or SpecError listing the valid names."""
    try:
        return LOSSES[name]
    except KeyError:
        raise SpecError(f"unknown loss {name!r}; losses are: {', '.join(sorted(LOSSES))}") from None


def losses_for(
    task: Task,
    metric: str,
    families: tuple[Family, ...],
    metric_params: Mapping[str, object] | None = None,
    soft_targets: bool = False,
) -> dict[Family, list[LossSpec]]:
    """The losses available for ``task`` and ``metric`` (with ``metric_params``; defaults when
    None) in each requested family; with ``soft_targets`` only those that train on a label
    distribution (see :attr:`LossSpec.soft_targets`).

    Families with no loss for this task and metric are left out.
    """
    grouped: dict[Family, list[LossSpec]] = {}
    for family in families:
        members = [
            spec
            for spec in LOSSES.values()
            if spec.family is family
            and task in spec.tasks
            and spec.serves_metric(metric, metric_params)
            and spec.fits_targets(soft_targets)
        ]
        if members:
            grouped[family] = members
    return grouped


def baseline_loss(task: Task) -> LossSpec:
    """The plain proxy loss for ``task`` (cross-entropy or MSE)."""
    return LOSSES[BASELINE_LOSS[task]]
