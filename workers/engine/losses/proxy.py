"""Proxy losses: the standard, metric-agnostic training objectives.

Cross-entropy, the Brier score, KL divergence (soft targets), MSE, MAE and Huber live here;
margin and square losses for classification in :mod:`~workers.engine.losses.proxy_margin`,
the other regression proxies in :mod:`~workers.engine.losses.proxy_regression`. Their
catalogue entries are in :mod:`workers.engine.losses.catalogue.proxy`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from workers.engine.losses.base import (
    Loss,
    LossBuilder,
    LossContext,
    member_mean,
    member_param,
)
from workers.engine.losses.catalogue.entry import SIGMOID_TASKS
from workers.engine.losses.sigmoid_cross_entropies import SigmoidCrossEntropies
from workers.engine.spec import Task


def per_example_cross_entropy(outputs: Tensor, targets: Tensor, task: Task) -> Tensor:
    """Cross-entropy of every decision: (M, B) for binary (BCE) and multiclass (softmax CE;
    against each row's distribution for soft targets), (M, B, L) for multilabel (BCE per
    label)."""
    if task in (Task.BINARY, Task.MULTILABEL):
        return F.binary_cross_entropy_with_logits(outputs, targets, reduction="none")
    n_members, batch, n_classes = outputs.shape
    if is_soft(outputs, targets):
        # torch's cross_entropy takes class probabilities as targets: -sum_c t_c log p_c.
        truth = targets.reshape(-1, n_classes).to(outputs.dtype)
    else:
        truth = targets.reshape(-1).long()
    flat = F.cross_entropy(outputs.reshape(-1, n_classes), truth, reduction="none")
    return flat.view(n_members, batch)


def is_soft(outputs: Tensor, targets: Tensor) -> bool:
    """Whether multiclass ``targets`` are distributions (M, B, C) rather than codes (M, B)."""
    return targets.dim() == outputs.dim()


def target_distribution(outputs: Tensor, targets: Tensor) -> Tensor:
    """Multiclass targets as distributions (M, B, C): soft targets as they are, codes one-hot."""
    if is_soft(outputs, targets):
        return targets.to(outputs.dtype)
    return F.one_hot(targets.long(), outputs.shape[-1]).to(outputs.dtype)


class CrossEntropy(Loss):
    """Mean cross-entropy: BCE with logits (binary; multilabel, averaged over examples and
    labels) or softmax cross-entropy (multiclass)."""

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return member_mean(per_example_cross_entropy(outputs, targets, self.task))


class BrierScore(Loss):
    """The Brier score of the predicted probabilities (Brier 1950): a bounded, strictly proper
    scoring rule, so it is minimised by the true probabilities, as cross-entropy is, but a
    confidently wrong row costs at most 1 (binary) or 2 (multiclass) instead of without bound.

    Binary and multilabel: ``mean (sigmoid(z) - y)^2`` over decisions, which is
    ``sklearn.metrics.brier_score_loss``; multiclass: the mean over examples of
    ``sum_c (softmax(z)_c - 1[c = y])^2`` (scikit-learn's multiclass Brier score, unscaled), and
    for soft targets ``sum_c (softmax(z)_c - t_c)^2``, still minimised by the target itself.
    """

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        if self.task is Task.MULTICLASS:
            truth = target_distribution(outputs, targets)
            return member_mean((torch.softmax(outputs, dim=-1) - truth).square().sum(dim=-1))
        return member_mean((torch.sigmoid(outputs) - targets).square())


class KLDivergence(Loss):
    """Mean ``KL(t || softmax(z)) = sum_c t_c (log t_c - log softmax(z)_c)`` over rows, for
    multiclass soft targets ``t`` (class codes count as one-hot rows, where it is cross-entropy).

    It is the soft cross-entropy minus the entropy of the targets, which does not depend on the
    model: the same gradient as cross-entropy, but its value is 0 at a perfect fit, so it reads
    as the metric of the same name. ``torch.nn.functional.kl_div`` on log-probabilities,
    summed over classes, computes the same (the tests check it).
    """

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        truth = target_distribution(outputs, targets)
        # xlogy gives 0 log 0 = 0, so classes a row rules out add nothing.
        entropy = -torch.special.xlogy(truth, truth).sum(dim=-1)
        cross_entropy = -(truth * torch.log_softmax(outputs, dim=-1)).sum(dim=-1)
        return member_mean(cross_entropy - entropy)


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


def _cross_entropy(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    if ctx.task in SIGMOID_TASKS:
        # Plain BCE is the sigmoid cross-entropies' module with every parameter neutral, so
        # its members share a block with the weighted ones.
        neutral = torch.zeros(ctx.members, device=ctx.device)
        return SigmoidCrossEntropies.for_members(ctx.task, ctx.n_outputs, gamma=neutral)
    return CrossEntropy(ctx.task)


def _huber(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return Huber(member_param(params, "delta"))


PROXY_BUILDERS: dict[str, LossBuilder] = {
    "cross_entropy": _cross_entropy,
    "brier": lambda params, ctx: BrierScore(ctx.task),
    "kl_divergence": lambda params, ctx: KLDivergence(),
    "mse": lambda params, ctx: SquaredError(),
    "mae": lambda params, ctx: AbsoluteError(),
    "huber": _huber,
}
