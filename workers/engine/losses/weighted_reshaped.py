"""Cross-entropies with a reshaped per-decision loss: Poly-1, label smoothing and the asymmetric
loss (ASL).

All three average over every decision: examples for binary and multiclass, (example, label) pairs
for multilabel. Sigmoid quantities are computed from the signed logit ``z_t`` (``z`` for a
positive, ``-z`` for a negative) with log-sigmoid, so nothing overflows or divides by zero at
extreme logits.
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
from workers.engine.losses.sigmoid_cross_entropies import SigmoidCrossEntropies


def true_class_logit(outputs: Tensor, targets: Tensor) -> Tensor:
    """``z_t``: the logit of the true class of each sigmoid decision (``z`` or ``-z``)."""
    return torch.where(targets > 0.5, outputs, -outputs)


class Poly1(Loss):
    """Multiclass Poly-1: ``CE + epsilon (1 - p_t)`` per example with softmax ``p_t``, averaged
    over the batch (timm's ``PolyCrossEntropy``). ``epsilon = 0`` is cross-entropy; ``epsilon >=
    -1`` keeps the loss decreasing in ``p_t``.

    Binary and multilabel Poly-1 (BCE and sigmoid ``p_t`` per decision, timm's
    ``PolyBinaryCrossEntropy``) is
    :class:`~workers.engine.losses.sigmoid_cross_entropies.SigmoidCrossEntropies`.
    """

    epsilon: Tensor

    def __init__(self, epsilon: Tensor) -> None:
        super().__init__()
        self.register_buffer("epsilon", epsilon)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        log_p_true = F.log_softmax(outputs, dim=-1).gather(-1, targets.long().unsqueeze(-1))
        log_p_true = log_p_true.squeeze(-1)
        one_minus_p = 1.0 - log_p_true.exp()
        epsilon = per_member(self.epsilon, log_p_true)
        return member_mean(-log_p_true + epsilon * one_minus_p)


class LabelSmoothing(Loss):
    """Multiclass cross-entropy against the smoothed target ``(1 - epsilon) one_hot(y) + epsilon /
    C``, averaged over the batch: exactly ``F.cross_entropy(label_smoothing=epsilon)``.

    Binary and multilabel smoothing (each 0/1 target becomes ``y (1 - epsilon) + epsilon / 2``
    under BCE, the same smoothing of the two-class problem on the logits ``(0, z)``, and timm's
    ``BinaryCrossEntropy(smoothing=epsilon)`` on dense targets) is
    :class:`~workers.engine.losses.sigmoid_cross_entropies.SigmoidCrossEntropies`.
    """

    epsilon: Tensor

    def __init__(self, epsilon: Tensor) -> None:
        super().__init__()
        self.register_buffer("epsilon", epsilon)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        log_probs = F.log_softmax(outputs, dim=-1)
        log_p_true = log_probs.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1)
        epsilon = per_member(self.epsilon, log_p_true)
        smoothed = -(1.0 - epsilon) * log_p_true - epsilon * log_probs.mean(dim=-1)
        return member_mean(smoothed)


class AsymmetricLoss(Loss):
    """ASL: asymmetric focusing and probability shifting, binary and multilabel (per label).

    With ``p = sigmoid(z)`` and the shifted probability ``p_m = max(p - clip, 0)``: a positive
    costs ``-(1 - p)^gamma_pos log p`` and a negative ``-p_m^gamma_neg log(1 - p_m)``; the loss
    is the mean over every decision (the paper and timm sum; timm's ``reduction="mean"`` is this).
    ``gamma_pos = gamma_neg = clip = 0`` is BCE.

    Stable forms: ``log p`` and ``log(1 - p)`` are log-sigmoids; ``(1 - p)^gamma`` is
    ``exp(gamma log(1 - p))``; ``log(1 - p_m) = min(log(sigmoid(-z) + clip), 0)``, a
    log-add-exp; ``p_m^gamma = exp(gamma log p_m)`` with ``log p_m`` floored at the smallest
    normal float, where it multiplies ``log(1 - p_m) = 0`` anyway. Gradients are finite
    everywhere, also for ``gamma < 1`` and ``p <= clip``.
    """

    gamma_pos: Tensor
    gamma_neg: Tensor
    clip: Tensor

    def __init__(self, gamma_pos: Tensor, gamma_neg: Tensor, clip: Tensor) -> None:
        super().__init__()
        self.register_buffer("gamma_pos", gamma_pos)
        self.register_buffer("gamma_neg", gamma_neg)
        self.register_buffer("clip", clip)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        gamma_pos = per_member(self.gamma_pos, outputs)
        gamma_neg = per_member(self.gamma_neg, outputs)
        clip = per_member(self.clip, outputs)
        positive = -torch.exp(gamma_pos * F.logsigmoid(-outputs)) * F.logsigmoid(outputs)

        tiny = torch.finfo(outputs.dtype).tiny
        shifted = torch.sigmoid(outputs) - clip
        log_shifted = torch.where(
            clip > 0, shifted.clamp_min(tiny).log(), F.logsigmoid(outputs)
        )  # log p_m; clip = 0 keeps the exact log-sigmoid
        log_not_shifted = torch.logaddexp(F.logsigmoid(-outputs), clip.log()).clamp_max(0.0)
        negative = -torch.exp(gamma_neg * log_shifted) * log_not_shifted
        return member_mean(torch.where(targets > 0.5, positive, negative))


def _poly1(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    epsilon = member_param(params, "epsilon")
    if ctx.task in SIGMOID_TASKS:
        return SigmoidCrossEntropies.for_members(ctx.task, ctx.n_outputs, poly=epsilon)
    return Poly1(epsilon)


def _label_smoothing(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    epsilon = member_param(params, "epsilon")
    if ctx.task in SIGMOID_TASKS:
        return SigmoidCrossEntropies.for_members(ctx.task, ctx.n_outputs, smoothing=epsilon)
    return LabelSmoothing(epsilon)


def _asymmetric(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return AsymmetricLoss(
        member_param(params, "gamma_pos"),
        member_param(params, "gamma_neg"),
        member_param(params, "clip"),
    )


RESHAPED_BUILDERS: dict[str, LossBuilder] = {
    "poly1": _poly1,
    "label_smoothing": _label_smoothing,
    "asymmetric": _asymmetric,
}
