"""Noise-robust classification proxies: generalised and symmetric cross-entropy.

Both are functions of each decision's probability of its true class, ``p_y = exp(-CE)`` with
``CE`` the decision's cross-entropy (:func:`per_example_cross_entropy`: BCE for binary and each
multilabel label, softmax CE for multiclass), averaged over decisions. They bound the loss of a
confidently wrong decision, which mislabelled rows otherwise dominate.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext, member_param, per_member
from workers.engine.losses.proxy import per_example_cross_entropy
from workers.engine.spec import Task

# Wang et al.'s reverse cross-entropy takes log 0 as this constant for the one-hot label.
LOG_ZERO = -4.0


class GeneralizedCrossEntropy(Loss):
    """Zhang & Sabuncu (2018): mean ``(1 - p_y^q) / q`` with a per-member ``q`` in (0, 1]:
    cross-entropy as ``q -> 0``, MAE on probabilities (``1 - p_y``) at ``q = 1``."""

    q: Tensor

    def __init__(self, task: Task, q: Tensor) -> None:
        super().__init__()
        self.task = task
        self.register_buffer("q", q)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        cross_entropy = per_example_cross_entropy(outputs, targets, self.task)
        q = per_member(self.q, cross_entropy)
        # p_y^q = exp(-q CE): finite for any logit, unlike a power of a saturated probability.
        return ((1.0 - torch.exp(-q * cross_entropy)) / q).flatten(1).mean(dim=1)


class SymmetricCrossEntropy(Loss):
    """Wang et al. (2019): mean ``alpha CE + beta RCE``, where the reverse cross-entropy of a
    one-hot label with ``log 0 = -4`` is ``RCE = 4 (1 - p_y)``."""

    alpha: Tensor
    beta: Tensor

    def __init__(self, task: Task, alpha: Tensor, beta: Tensor) -> None:
        super().__init__()
        self.task = task
        self.register_buffer("alpha", alpha)
        self.register_buffer("beta", beta)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        cross_entropy = per_example_cross_entropy(outputs, targets, self.task)
        alpha, beta = per_member(self.alpha, cross_entropy), per_member(self.beta, cross_entropy)
        reverse = -LOG_ZERO * (1.0 - torch.exp(-cross_entropy))
        return (alpha * cross_entropy + beta * reverse).flatten(1).mean(dim=1)


def _generalized(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return GeneralizedCrossEntropy(ctx.task, member_param(params, "q"))


def _symmetric(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return SymmetricCrossEntropy(
        ctx.task, member_param(params, "alpha"), member_param(params, "beta")
    )


ROBUST_BUILDERS: dict[str, LossBuilder] = {
    "generalized_ce": _generalized,
    "symmetric_ce": _symmetric,
}
