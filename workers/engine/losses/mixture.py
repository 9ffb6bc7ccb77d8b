"""Combinations: ``lam * proxy + (1 - lam) * surrogate``, after a warm-up on the proxy alone.

Direct surrogates trained from scratch are often unstable (their gradients vanish or point
nowhere useful while the model is still random), so each surrogate also enters the search
mixed with the plain proxy (cross-entropy, or MSE for regression) and with a warm-up: for the
first ``round(warmup * max_epochs)`` epochs only the proxy trains. Both ``lam`` and ``warmup``
are searched; ``lam = 0`` is the pure surrogate after a warm-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import torch
from torch import Tensor

from workers.engine.losses.base import Loss, LossContext, LossSpec, ParamSpec, member_param
from workers.engine.losses.proxy import CrossEntropy, SquaredError
from workers.engine.spec import Task

LAM = ParamSpec("lam", 0.0, 0.95, 0.5, "weight of the proxy loss after the warm-up")
WARMUP = ParamSpec(
    "warmup", 0.0, 0.5, 0.1, "fraction of the epoch cap trained on the proxy alone first"
)


class Mixture(Loss):
    """``(1 - s) * proxy + s * surrogate`` with ``s = 0`` during the warm-up, ``1 - lam`` after."""

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


def mixture_of(surrogate: LossSpec) -> LossSpec:
    """The catalogue entry ``mixed_<surrogate>``: its parameters plus ``lam`` and ``warmup``."""

    def build(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
        inner = surrogate.build(params, ctx)
        warmup = torch.round(member_param(params, "warmup") * ctx.max_epochs)
        return Mixture(proxy_for(ctx.task), inner, member_param(params, "lam"), warmup)

    return replace(
        surrogate,
        name=f"mixed_{surrogate.name}",
        summary=f"lam * proxy + (1 - lam) * {surrogate.name}, after a proxy-only warm-up.",
        build=build,
        params=(*surrogate.params, LAM, WARMUP),
    )
