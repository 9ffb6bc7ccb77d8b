"""The loss catalogue: proxy, weighted and surrogate losses for populations of models."""

from workers.engine.losses.base import Loss, LossContext, LossSpec, ParamSpec
from workers.engine.losses.catalogue import (
    BASELINE_LOSS,
    LOSSES,
    baseline_loss,
    get_loss,
    losses_for,
)

__all__ = [
    "BASELINE_LOSS",
    "LOSSES",
    "Loss",
    "LossContext",
    "LossSpec",
    "ParamSpec",
    "baseline_loss",
    "get_loss",
    "losses_for",
]
