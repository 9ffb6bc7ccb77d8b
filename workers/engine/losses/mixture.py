"""Combinations: ``(1 - s) * proxy + s * surrogate``, the proxy alone during a warm-up.

The catalogue entries ``mixed_<surrogate>`` and the reasons for them are in
:mod:`workers.engine.losses.catalogue.mixture`; here every surrogate's builder gets its mixed
counterpart.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext, member_param
from workers.engine.losses.catalogue.mixture import MIXTURE_PREFIX
from workers.engine.losses.proxy import CrossEntropy, SquaredError
from workers.engine.spec import Task


class Mixture(Loss):
    """``(1 - s) * proxy + s * surrogate`` with ``s = 0`` during the warm-up, ``1 - lam`` after.

    Mixtures of surrogates that share one module (a ``fusion_key``) share one too: their members
    are one block of a population, as the surrogates' own members are.
    """

    lam: Tensor
    warmup_epochs: Tensor
    surrogate_weight: Tensor

    def __init__(self, proxy: Loss, surrogate: Loss, lam: Tensor, warmup_epochs: Tensor) -> None:
        super().__init__()
        self.proxy = proxy
        self.surrogate = surrogate
        self.register_buffer("lam", lam)
        self.register_buffer("warmup_epochs", warmup_epochs)
        self.register_buffer("surrogate_weight", torch.zeros_like(lam))
        if surrogate.fusion_key is not None:
            self.fusion_key = f"{MIXTURE_PREFIX}{surrogate.fusion_key}"

    def start_epoch(self, epoch: Tensor | int) -> None:
        super().start_epoch(epoch)
        warmed_up = (epoch > self.warmup_epochs).to(self.lam.dtype)
        self.surrogate_weight = warmed_up * (1.0 - self.lam)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        proxy = self.proxy(outputs, targets)
        surrogate = self.surrogate(outputs, targets)
        weight = self.surrogate_weight
        mixed: Tensor = (1.0 - weight) * proxy + weight * surrogate
        return mixed


def proxy_for(task: Task) -> Loss:
    """The plain proxy a surrogate is mixed with."""
    return SquaredError() if task is Task.REGRESSION else CrossEntropy(task)


def mixed(surrogate: LossBuilder) -> LossBuilder:
    """The builder of ``mixed_<surrogate>``: the surrogate's parameters plus ``lam``, ``warmup``."""

    def build(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
        inner = surrogate(params, ctx)
        warmup = torch.round(member_param(params, "warmup") * ctx.max_epochs)
        return Mixture(proxy_for(ctx.task), inner, member_param(params, "lam"), warmup)

    return build


def mixture_builders(surrogates: Mapping[str, LossBuilder]) -> dict[str, LossBuilder]:
    """``mixed_<name>`` for every surrogate builder, as the catalogue declares one per surrogate."""
    return {f"{MIXTURE_PREFIX}{name}": mixed(build) for name, build in surrogates.items()}
