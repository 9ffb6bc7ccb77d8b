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
)
from workers.engine.losses.catalogue.entry import SIGMOID_TASKS
from workers.engine.losses.weighting import (
    ClassWeightedCrossEntropy,
    effective_number_weights,
    label_class_counts,
    per_task,
    power_weights,
)
from workers.engine.spec import Task


class FocalLoss(Loss):
    """Focal loss ``-alpha_t (1 - p_t)^gamma log p_t``, averaged over the batch.

    Binary (and multilabel, per label) convention matches
    ``torchvision.ops.sigmoid_focal_loss(reduction="mean")``: ``alpha_t = alpha`` for positives
    and ``1 - alpha`` for negatives, averaged over every decision. Multiclass uses softmax
    probabilities and no alpha. ``(1 - p_t)^gamma`` is computed as ``exp(gamma log(1 - p_t))``
    with ``log(1 - p_t)`` from log-sigmoid / log-sum-exp, so gradients stay finite at extreme
    logits and for gamma < 1.
    """

    gamma: Tensor
    alpha: Tensor

    def __init__(self, task: Task, gamma: Tensor, alpha: Tensor | None) -> None:
        super().__init__()
        self.task = task
        self.register_buffer("gamma", gamma)
        self.register_buffer("alpha", alpha if alpha is not None else torch.full_like(gamma, -1.0))

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        if self.task in (Task.BINARY, Task.MULTILABEL):
            gamma = per_member(self.gamma, outputs)
            signed = torch.where(targets > 0.5, outputs, -outputs)  # z_t: logit of the true class
            log_p_true = F.logsigmoid(signed)
            log_p_other = F.logsigmoid(-signed)
            alpha = per_member(self.alpha, outputs)
            alpha_t = torch.where(targets > 0.5, alpha, 1.0 - alpha)
            focal = -alpha_t * torch.exp(gamma * log_p_other) * log_p_true
            return member_mean(focal)
        index = targets.long().unsqueeze(-1)
        log_probs = F.log_softmax(outputs, dim=-1)
        log_p_true = log_probs.gather(-1, index).squeeze(-1)
        others = outputs.scatter(-1, index, float("-inf"))
        log_p_other = torch.logsumexp(others, dim=-1) - torch.logsumexp(outputs, dim=-1)
        gamma = per_member(self.gamma, log_p_other)
        return member_mean(-torch.exp(gamma * log_p_other) * log_p_true)


def _class_weighted(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    counts = label_class_counts(ctx.task, ctx.class_counts, ctx.n_train)
    weights = power_weights(counts, member_param(params, "power"))
    return ClassWeightedCrossEntropy(ctx.task, per_task(weights, ctx.task))


def _class_balanced(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    counts = label_class_counts(ctx.task, ctx.class_counts, ctx.n_train)
    weights = effective_number_weights(counts, member_param(params, "one_minus_beta"))
    return ClassWeightedCrossEntropy(ctx.task, per_task(weights, ctx.task))


def _focal(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    alpha = member_param(params, "alpha") if ctx.task in SIGMOID_TASKS else None
    return FocalLoss(ctx.task, member_param(params, "gamma"), alpha)


WEIGHTED_BUILDERS: dict[str, LossBuilder] = {
    "class_weighted_ce": _class_weighted,
    "class_balanced": _class_balanced,
    "focal": _focal,
}
