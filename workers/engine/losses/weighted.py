"""Weighted losses: cross-entropy re-weighted towards rare classes or hard examples.

Class weights (power and class-balanced) and focal loss live here; the margin and prior
adjustments for imbalance in :mod:`~workers.engine.losses.weighted_imbalance`, the reshaped
cross-entropies (Poly-1, label smoothing, asymmetric) in
:mod:`~workers.engine.losses.weighted_reshaped`, and the MAPE-weighted MAE in
:mod:`~workers.engine.losses.weighted_regression`. Their catalogue entries are in
:mod:`workers.engine.losses.catalogue.weighted`.
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
    per_member,
    per_task,
)
from workers.engine.losses.catalogue.entry import SIGMOID_TASKS
from workers.engine.losses.sigmoid_cross_entropies import SigmoidCrossEntropies
from workers.engine.losses.weighting import (
    ClassWeightedCrossEntropy,
    effective_number_weights,
    label_class_counts,
    power_weights,
)
from workers.engine.spec import Task


class FocalLoss(Loss):
    """Multiclass focal loss ``-(1 - p_t)^gamma log p_t`` with softmax probabilities (no alpha),
    averaged over the batch. ``(1 - p_t)^gamma`` is computed as ``exp(gamma log(1 - p_t))`` with
    ``log(1 - p_t)`` from log-sum-exp, so gradients stay finite at extreme logits and for
    gamma < 1.

    Binary and multilabel focal loss (``-alpha_t (1 - p_t)^gamma log p_t`` per decision, the
    convention of ``torchvision.ops.sigmoid_focal_loss(reduction="mean")``: ``alpha_t = alpha``
    for positives, ``1 - alpha`` for negatives) is
    :class:`~workers.engine.losses.sigmoid_cross_entropies.SigmoidCrossEntropies` with class
    weights ``(1 - alpha, alpha)``.
    """

    gamma: Tensor

    def __init__(self, gamma: Tensor) -> None:
        super().__init__()
        self.register_buffer("gamma", gamma)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        index = targets.long().unsqueeze(-1)
        log_probs = F.log_softmax(outputs, dim=-1)
        log_p_true = log_probs.gather(-1, index).squeeze(-1)
        others = outputs.scatter(-1, index, float("-inf"))
        log_p_other = torch.logsumexp(others, dim=-1) - torch.logsumexp(outputs, dim=-1)
        gamma = per_member(self.gamma, log_p_other)
        return member_mean(-torch.exp(gamma * log_p_other) * log_p_true)


def class_weighted_cross_entropy(weights: Tensor, ctx: LossContext) -> Loss:
    """Cross-entropy with per-member class weights laid out by :func:`per_task`."""
    if ctx.task in SIGMOID_TASKS:
        return SigmoidCrossEntropies.for_members(ctx.task, ctx.n_outputs, weights=weights)
    return ClassWeightedCrossEntropy(ctx.task, weights)


def _class_weighted(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    counts = label_class_counts(ctx.task, ctx.class_counts, ctx.n_train)
    weights = power_weights(counts, member_param(params, "power"))
    return class_weighted_cross_entropy(per_task(weights, ctx.task), ctx)


def _class_balanced(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    counts = label_class_counts(ctx.task, ctx.class_counts, ctx.n_train)
    weights = effective_number_weights(counts, member_param(params, "one_minus_beta"))
    return class_weighted_cross_entropy(per_task(weights, ctx.task), ctx)


def _focal(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    gamma = member_param(params, "gamma")
    if ctx.task not in SIGMOID_TASKS:
        return FocalLoss(gamma)
    alpha = member_param(params, "alpha")
    by_class = torch.stack([1.0 - alpha, alpha], dim=-1)  # (M, 2): negatives, positives
    if ctx.task is Task.MULTILABEL:
        by_class = by_class.unsqueeze(1).expand(-1, ctx.n_outputs, -1).contiguous()
    return SigmoidCrossEntropies.for_members(ctx.task, ctx.n_outputs, weights=by_class, gamma=gamma)


WEIGHTED_BUILDERS: dict[str, LossBuilder] = {
    "class_weighted_ce": _class_weighted,
    "class_balanced": _class_balanced,
    "focal": _focal,
}
