"""Proxy losses: the standard, metric-agnostic training objectives.

Cross-entropy, MSE, MAE and Huber live here; margin and square losses for classification in
:mod:`~workers.engine.losses.proxy_margin`, the other regression proxies in
:mod:`~workers.engine.losses.proxy_regression`. :data:`PROXY_LOSSES` gathers them all.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from workers.engine.losses.base import (
    Loss,
    LossContext,
    LossSpec,
    ParamSpec,
    member_mean,
    member_param,
)
from workers.engine.losses.proxy_margin import MARGIN_LOSSES
from workers.engine.losses.proxy_regression import REGRESSION_PROXY_LOSSES
from workers.engine.spec import Family, Task


def per_example_cross_entropy(outputs: Tensor, targets: Tensor, task: Task) -> Tensor:
    """Cross-entropy of every decision: (M, B) for binary (BCE) and multiclass (softmax CE),
    (M, B, L) for multilabel (BCE per label)."""
    if task in (Task.BINARY, Task.MULTILABEL):
        return F.binary_cross_entropy_with_logits(outputs, targets, reduction="none")
    n_members, batch, n_classes = outputs.shape
    flat = F.cross_entropy(
        outputs.reshape(-1, n_classes), targets.reshape(-1).long(), reduction="none"
    )
    return flat.view(n_members, batch)


class CrossEntropy(Loss):
    """Mean cross-entropy: BCE with logits (binary; multilabel, averaged over examples and
    labels) or softmax cross-entropy (multiclass)."""

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return member_mean(per_example_cross_entropy(outputs, targets, self.task))


class SquaredError(Loss):
    """Mean squared error (on standardised targets for regression)."""

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return (outputs - targets).pow(2).mean(dim=-1)


class AbsoluteError(Loss):
    """Mean absolute error."""

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return (outputs - targets).abs().mean(dim=-1)


class Huber(Loss):
    """Huber loss with a per-member ``delta``, as ``torch.nn.functional.huber_loss`` defines it.

    ``0.5 r^2`` where ``|r| <= delta``, else ``delta (|r| - 0.5 delta)``. Written out because
    torch's version takes one scalar delta, not one per member.
    """

    delta: Tensor

    def __init__(self, delta: Tensor) -> None:
        super().__init__()
        self.register_buffer("delta", delta)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        delta = self.delta.unsqueeze(-1)
        residual = (outputs - targets).abs()
        quadratic = 0.5 * residual.pow(2)
        linear = delta * (residual - 0.5 * delta)
        return torch.where(residual <= delta, quadratic, linear).mean(dim=-1)


_CLASSIFICATION = frozenset({Task.BINARY, Task.MULTICLASS, Task.MULTILABEL})
_REGRESSION = frozenset({Task.REGRESSION})


def _cross_entropy(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return CrossEntropy(ctx.task)


def _huber(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return Huber(member_param(params, "delta"))


_STANDARD_LOSSES = (
    LossSpec(
        name="cross_entropy",
        family=Family.PROXY,
        tasks=_CLASSIFICATION,
        summary="Binary cross-entropy on one logit, or softmax cross-entropy; the baseline.",
        reference="Maximum-likelihood training objective; Goodfellow et al., Deep Learning, "
        "2016, §6.2.",
        build=_cross_entropy,
    ),
    LossSpec(
        name="mse",
        family=Family.PROXY,
        tasks=_REGRESSION,
        summary="Mean squared error on the standardised target; the regression baseline.",
        reference="Least squares (Legendre 1805; Gauss 1809).",
        build=lambda params, ctx: SquaredError(),
    ),
    LossSpec(
        name="mae",
        family=Family.PROXY,
        tasks=_REGRESSION,
        summary="Mean absolute error: consistent for the conditional median.",
        reference="Least absolute deviations (Boscovich 1757; Laplace 1788).",
        build=lambda params, ctx: AbsoluteError(),
    ),
    LossSpec(
        name="huber",
        family=Family.PROXY,
        tasks=_REGRESSION,
        summary="Quadratic near zero, linear beyond delta (in standard deviations of the target).",
        reference="Huber, Robust Estimation of a Location Parameter, Ann. Math. Statist. 1964.",
        build=_huber,
        params=(
            ParamSpec(
                "delta", 0.1, 3.0, 1.0, "switch point, in target standard deviations", log=True
            ),
        ),
    ),
)

PROXY_LOSSES = (*_STANDARD_LOSSES, *MARGIN_LOSSES, *REGRESSION_PROXY_LOSSES)
