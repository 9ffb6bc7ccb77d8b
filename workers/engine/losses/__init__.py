"""The loss catalogue: proxy, weighted and surrogate losses, and which fit a task and a metric.

This package's surface is torch-free, so the API can list the catalogue and check job specs
without loading torch. The torch side is imported from its own modules by the code that
trains: :class:`~workers.engine.losses.base.Loss` and
:class:`~workers.engine.losses.base.LossContext` from :mod:`workers.engine.losses.base`, and
:func:`~workers.engine.losses.build.build_loss` (a catalogue entry's loss module) from
:mod:`workers.engine.losses.build`.
"""

from workers.engine.losses.catalogue import (
    BASELINE_LOSS,
    LOSSES,
    baseline_loss,
    get_loss,
    losses_for,
)
from workers.engine.losses.catalogue.entry import LossSpec, ParamSpec

__all__ = [
    "BASELINE_LOSS",
    "LOSSES",
    "LossSpec",
    "ParamSpec",
    "baseline_loss",
    "get_loss",
    "losses_for",
]
