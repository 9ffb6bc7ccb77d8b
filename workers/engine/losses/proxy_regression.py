"""Regression proxies beyond MSE, MAE and Huber: log-cosh, pseudo-Huber, pinball (quantile),
Poisson NLL and squared log error.

Regression targets reach a loss standardised with the training mean and standard deviation.
Log-cosh, pseudo-Huber and pinball work on those standardised values (so a residual of 1 is
one standard deviation); Poisson NLL and squared log error have a log link and work in the
target's own units, rebuilt from the context (:func:`original_targets`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from workers.engine.losses.base import (
    Loss,
    LossBuilder,
    LossContext,
    member_param,
    per_member,
)

LN2 = math.log(2.0)


def original_targets(targets: Tensor, target_mean: float, target_std: float) -> Tensor:
    """Standardised regression targets back in the target's own units."""
    return targets * target_std + target_mean


class LogCosh(Loss):
    """Mean ``log(cosh(r))`` of the residual ``r = output - target`` (standardised units).

    Written as ``|r| + softplus(-2|r|) - log 2``, which neither overflows for large residuals
    (``cosh`` does beyond ``|r| ~ 89``) nor loses the quadratic behaviour near 0; its gradient is
    ``tanh(r)``.
    """

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        residual = (outputs - targets).abs()
        return (residual + F.softplus(-2.0 * residual) - LN2).mean(dim=-1)


class PseudoHuber(Loss):
    """Mean pseudo-Huber loss ``delta^2 (sqrt(1 + (r / delta)^2) - 1)`` of the residual ``r``
    (standardised units), with a per-member ``delta``.

    Like Huber's, it is ``r^2 / 2`` near zero and grows like ``delta |r|`` for large residuals,
    but it is smooth everywhere (gradient ``r / sqrt(1 + (r / delta)^2)``), so there is no kink
    at ``|r| = delta``.
    """

    delta: Tensor

    def __init__(self, delta: Tensor) -> None:
        super().__init__()
        self.register_buffer("delta", delta)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        delta = per_member(self.delta, outputs)
        squared = ((outputs - targets) / delta).pow(2)
        # sqrt(1 + s) - 1 written as s / (sqrt(1 + s) + 1): no cancellation for small residuals.
        return (delta.pow(2) * squared / (torch.sqrt(1.0 + squared) + 1.0)).mean(dim=-1)


class Pinball(Loss):
    """Mean pinball (quantile) loss at a per-member level ``tau``, on standardised targets.

    ``max(tau r, (tau - 1) r)`` with ``r = target - output``: under-predictions cost ``tau`` per
    unit and over-predictions ``1 - tau``, so the minimiser is the conditional ``tau``-quantile
    (``tau = 1/2`` is half the absolute error). In the target's units the loss is this times the
    target's standard deviation (sklearn's ``mean_pinball_loss(alpha=tau)``).
    """

    tau: Tensor

    def __init__(self, tau: Tensor) -> None:
        super().__init__()
        self.register_buffer("tau", tau)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        tau = per_member(self.tau, outputs)
        residual = targets - outputs
        return torch.maximum(tau * residual, (tau - 1.0) * residual).mean(dim=-1)


class PoissonNLL(Loss):
    """Poisson negative log-likelihood with a log link, in units of ``target_scale``.

    The output ``eta`` is the log of the prediction in units of ``target_scale`` (the prediction
    is ``exp(eta) * target_scale``). The target is rebuilt in its own units,
    ``y = target * target_std + target_mean``, divided by ``target_scale`` and clipped at 0 (a
    Poisson model has no negative targets; clipping also absorbs rounding of zeros), and the loss
    is ``mean(exp(eta) - y eta)``: ``F.poisson_nll_loss(eta, y, log_input=True, full=False)``.
    In the target's units this is the Poisson NLL divided by ``target_scale`` up to a constant,
    so it has the same minimiser as the Poisson deviance. ``exp(eta)`` is exact, not clipped:
    finite up to ``eta ~ 88``.
    """

    def __init__(self, target_mean: float, target_std: float, target_scale: float) -> None:
        super().__init__()
        self.target_mean = target_mean
        self.target_std = target_std
        self.target_scale = target_scale

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        counts = original_targets(targets, self.target_mean, self.target_std) / self.target_scale
        counts = counts.clamp_min(0.0)
        return (torch.exp(outputs) - counts * outputs).mean(dim=-1)


class SquaredLogError(Loss):
    """Squared logarithmic error ``mean((log(1 + prediction) - log(1 + y))^2)`` with a log link.

    As for :class:`PoissonNLL`, the output ``eta`` is the log of the prediction in units of
    ``target_scale``, so the prediction ``exp(eta) * target_scale`` is positive and
    ``log(1 + prediction) = softplus(eta + log(target_scale))`` exactly, smooth for every
    output (no clipping of a negative prediction, whose gradient would vanish). The target is
    rebuilt in its own units and clipped at 0. The loss is the msle metric of the prediction, so
    it is minimised by the conditional mean of ``log(1 + y)``.
    """

    def __init__(self, target_mean: float, target_std: float, target_scale: float) -> None:
        super().__init__()
        self.target_mean = target_mean
        self.target_std = target_std
        self.log_scale = math.log(target_scale)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        amounts = original_targets(targets, self.target_mean, self.target_std).clamp_min(0.0)
        log_error = F.softplus(outputs + self.log_scale) - torch.log1p(amounts)
        return log_error.square().mean(dim=-1)


def _pinball(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return Pinball(member_param(params, "tau"))


def _poisson(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return PoissonNLL(ctx.target_mean, ctx.target_std, ctx.target_scale)


REGRESSION_PROXY_BUILDERS: dict[str, LossBuilder] = {
    "log_cosh": lambda params, ctx: LogCosh(),
    "pseudo_huber": lambda params, ctx: PseudoHuber(member_param(params, "delta")),
    "pinball": _pinball,
    "poisson_nll": _poisson,
    "msle": lambda params, ctx: SquaredLogError(ctx.target_mean, ctx.target_std, ctx.target_scale),
}
