"""Ranking surrogates on the batch: pairwise AUC losses and Smooth-AP.

Pairwise losses score every (positive, negative) pair of the batch by the logit difference
``t = u_pos - u_neg`` and average a loss of ``t`` over the pairs. Gao & Zhou (2015) show the
logistic, exponential and squared-hinge pair losses are AUC-consistent and the plain hinge is
not, so the hinge is left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext, member_param
from workers.engine.losses.surrogates.common import logits_layout
from workers.engine.spec import Task

EXP_LINEAR_FROM = 20.0  # the exponential pair loss continues linearly below t = -20
PairLoss = Callable[[Tensor, Tensor], Tensor]  # (t: (M, B, B, K), margin: (M, 1, 1, 1))


def logistic_pairs(t: Tensor, margin: Tensor) -> Tensor:
    """``log(1 + exp(-t))``."""
    return F.softplus(-t)


def exponential_pairs(t: Tensor, margin: Tensor) -> Tensor:
    """``exp(-t)``, continued by its tangent below ``t = -20`` so it stays finite in float32."""
    edge = math.exp(EXP_LINEAR_FROM)
    tail = edge * (1.0 - EXP_LINEAR_FROM - t)
    return torch.where(t >= -EXP_LINEAR_FROM, torch.exp(-t.clamp_min(-EXP_LINEAR_FROM)), tail)


def squared_hinge_pairs(t: Tensor, margin: Tensor) -> Tensor:
    """``max(0, margin - t) ** 2``."""
    return F.relu(margin - t).pow(2)


class PairwiseAUC(Loss):
    """Mean pair loss over the batch's positive-negative pairs of logits.

    Convention: scores are the raw logits (no sigmoid), pairs are averaged with equal weight,
    a batch (or label) without both classes contributes 0. Multilabel: each label's pairs are
    averaged, then the mean is over the labels that have pairs in the batch. Only AUC-consistent
    pair losses are offered: the plain hinge ``max(0, 1 - t)`` is not (Gao & Zhou 2015).
    """

    margin: Tensor

    def __init__(self, task: Task, pair_loss: PairLoss, margin: Tensor | None = None) -> None:
        super().__init__()
        self.task = task
        self.pair_loss = pair_loss
        self.register_buffer("margin", margin)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        scores = logits_layout(outputs, self.task)  # (M, B, K)
        positive = logits_layout(targets, self.task) > 0.5
        pairs = positive.unsqueeze(2) & (~positive).unsqueeze(1)  # (M, i, j, K): i pos, j neg
        t = scores.unsqueeze(2) - scores.unsqueeze(1)
        margin = self.margin.view(-1, 1, 1, 1) if self.margin is not None else t.new_zeros(())
        safe_t = torch.where(pairs, t, torch.zeros_like(t))  # no overflow from unused pairs
        losses = self.pair_loss(safe_t, margin) * pairs
        n_pairs = pairs.sum(dim=(1, 2))
        per_column = losses.sum(dim=(1, 2)) / n_pairs.clamp_min(1)
        has_pairs = (n_pairs > 0).to(per_column.dtype)
        return (per_column * has_pairs).sum(dim=-1) / has_pairs.sum(dim=-1).clamp_min(1.0)


class SmoothAP(Loss):
    """Smooth-AP (Brown et al. 2020): ``1 - mean over positives i of R_P(i) / R(i)``.

    Convention: scores are the sigmoid probabilities (bounded like the paper's cosine
    similarities, so the paper's temperatures apply). With ``s(d) = sigmoid(d / tau)``,
    ``R_P(i) = 1 + sum over positives j != i of s(p_j - p_i)`` and ``R(i) = R_P(i) + sum over
    negatives j of s(p_j - p_i)``. As ``tau -> 0`` this is the average precision of the batch;
    a batch with no positives gives 0.
    """

    temperature: Tensor

    def __init__(self, temperature: Tensor) -> None:
        super().__init__()
        self.register_buffer("temperature", temperature)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        probs = torch.sigmoid(outputs)
        positive = (targets > 0.5).to(probs.dtype)
        differences = probs.unsqueeze(1) - probs.unsqueeze(2)  # [m, i, j] = p_j - p_i
        others = 1.0 - torch.eye(probs.shape[1], dtype=probs.dtype, device=probs.device)
        above = torch.sigmoid(differences / self.temperature.view(-1, 1, 1)) * others
        rank_positive = 1.0 + (above * positive.unsqueeze(1)).sum(dim=2)
        rank_all = 1.0 + above.sum(dim=2)
        n_positive = positive.sum(dim=1)
        precision = (rank_positive / rank_all * positive).sum(dim=1) / n_positive.clamp_min(1.0)
        return torch.where(n_positive > 0, 1.0 - precision, torch.zeros_like(precision))


def _pairwise(pair_loss: PairLoss) -> Callable[[Mapping[str, Tensor], LossContext], Loss]:
    def build(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
        margin = member_param(params, "margin") if "margin" in params else None
        return PairwiseAUC(ctx.task, pair_loss, margin)

    return build


def _smooth_ap(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return SmoothAP(member_param(params, "temperature"))


RANKING_BUILDERS: dict[str, LossBuilder] = {
    "pairwise_auc": _pairwise(logistic_pairs),
    "pairwise_auc_exp": _pairwise(exponential_pairs),
    "pairwise_auc_sqhinge": _pairwise(squared_hinge_pairs),
    "smooth_ap": _smooth_ap,
}
