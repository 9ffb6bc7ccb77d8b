"""Cross-entropy adjusted for class imbalance through the logits: logit adjustment (class priors)
and LDAM margins with deferred re-weighting.

Both keep the model's raw logits as its predictions: the adjustment exists in training only, so a
model trained with it predicts as if the classes were balanced. Binary and multilabel decisions
are treated as two-class problems on one logit ``z`` (the logits ``(0, z)``); for multilabel each
label has its own (negatives, positives) counts out of ``n_train``.
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
    member_param,
    per_decision,
    per_member,
    per_task,
)
from workers.engine.losses.catalogue.entry import SIGMOID_TASKS
from workers.engine.losses.proxy import per_example_cross_entropy
from workers.engine.losses.sigmoid_cross_entropies import SigmoidCrossEntropies
from workers.engine.losses.weighting import (
    DRW_ONE_MINUS_BETA,
    effective_number_weights,
    label_class_counts,
    weighted_mean,
)
from workers.engine.spec import Task


def log_prior_offsets(counts: Tensor, task: Task) -> Tensor:
    """``log pi``: log class priors (C,) for multiclass; for binary and multilabel the prior
    log-odds ``log(n_pos / n_neg)`` per label, shape (L,) ((1,) for binary).

    ``counts`` is the (K, C) layout of :func:`label_class_counts`, clamped at 1 so an absent class
    gets a finite prior.
    """
    clamped = counts.clamp_min(1.0)
    if task is Task.MULTICLASS:
        return (clamped / clamped.sum(-1, keepdim=True)).log()[0]
    return clamped[:, 1].log() - clamped[:, 0].log()


class LogitAdjustedLoss(Loss):
    """Multiclass logit-adjusted cross-entropy: softmax cross-entropy of ``z_c + tau log pi_c``
    with ``pi_c = n_c / n``, mean over the batch. ``tau = 0`` is plain cross-entropy; ``tau = 1``
    makes the raw logits estimate the balanced (prior-free) class scores.

    Binary (BCE of ``z + tau log(n_1 / n_0)``, the two-class version on the logits ``(0, z)``)
    and multilabel (the same per label with that label's prior log-odds, averaged over every
    (example, label)) is :class:`~workers.engine.losses.sigmoid_cross_entropies.
    SigmoidCrossEntropies` with that shift.
    """

    offsets: Tensor

    def __init__(self, offsets: Tensor) -> None:
        super().__init__()
        self.register_buffer("offsets", offsets)  # (M, C)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        adjusted = outputs + self.offsets.unsqueeze(1)
        per_example = per_example_cross_entropy(adjusted, targets, Task.MULTICLASS)
        return per_example.flatten(1).mean(1)


def ldam_margins(counts: Tensor, max_margin: Tensor) -> Tensor:
    """Per-class margins ``max_margin * (n_min / n_c)^(1/4)`` for each row of ``counts``,
    shape (M, K, C): proportional to ``n_c^(-1/4)``, the rarest class of each row (label) gets
    ``max_margin``. Counts are clamped at 1."""
    raw = counts.clamp_min(1.0).pow(-0.25)
    return max_margin.view(-1, 1, 1) * (raw / raw.amax(-1, keepdim=True)).unsqueeze(0)


class LDAMDRW(Loss):
    """LDAM (label-distribution-aware margin) loss with deferred re-weighting (DRW).

    As in Cao et al.'s code, the true class's output is lowered by its margin
    ``Delta_y = max_margin (n_min / n_y)^(1/4)`` and the result is scaled by ``s`` before
    cross-entropy: multiclass ``CE(s (z - Delta_y e_y), y)``; binary (and multilabel per label)
    ``BCE(s (z - (2y - 1) Delta_y), y)``, the two-class version on ``(0, z)``, each label with
    the margins of its own (negatives, positives) counts. The paper's outputs are cosines and
    ``s = 30``, ``max_margin = 0.5``: a margin of 15 in the units of the logits the loss sees.
    Ours are not normalised, so ``s`` also sets how large the outputs grow; predictions stay
    the outputs ``z`` (the margins and the scale exist in training only).

    Training has two stages. In the first every decision weighs 1 and the loss is the mean
    over the batch. The second re-weights: decisions weigh their class's class-balanced weight
    with ``beta = 0.9999`` (per label for multilabel) and the loss is the weighted mean
    ``sum w l / sum w``, as ``F.cross_entropy(weight=w)``; the learning rate is multiplied by
    ``lr_factor`` (the paper drops it 100-fold at the switch). The second stage starts after
    epoch ``defer_epochs`` (``round(defer * max_epochs)``, the paper's 160 of 200), or earlier,
    when the member stops improving on validation (:meth:`advance_stage`): with early stopping
    a fixed epoch is often never reached, and the first stage has then converged.
    """

    margins: Tensor
    balanced: Tensor
    scale: Tensor
    lr_factor: Tensor
    defer_epochs: Tensor
    switched: Tensor
    reweighting: Tensor

    def __init__(
        self,
        task: Task,
        margins: Tensor,
        balanced: Tensor,
        scale: Tensor,
        lr_factor: Tensor,
        defer_epochs: Tensor,
    ) -> None:
        super().__init__()
        self.task = task
        self.register_buffer("margins", margins)
        self.register_buffer("balanced", balanced)
        self.register_buffer("scale", scale)
        self.register_buffer("lr_factor", lr_factor)
        self.register_buffer("defer_epochs", defer_epochs)
        # Moved to the second stage by a plateau before the deferred epoch.
        self.register_buffer("switched", torch.zeros_like(defer_epochs, dtype=torch.bool))
        self.register_buffer("reweighting", torch.zeros_like(defer_epochs, dtype=torch.bool))

    def start_epoch(self, epoch: Tensor | int) -> None:
        super().start_epoch(epoch)
        self.reweighting = self.switched | (epoch > self.defer_epochs)

    def advance_stage(self, members: Tensor) -> Tensor:
        first_stage = ~self.reweighting[members]
        switched = self.switched.clone()
        switched[members] = True
        self.switched = switched
        return first_stage

    def learning_rate_multipliers(self, members: int) -> Tensor:
        return torch.where(self.reweighting, self.lr_factor, torch.ones_like(self.lr_factor))

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        if self.task is Task.MULTICLASS:
            onehot = F.one_hot(targets.long(), outputs.shape[-1]).to(outputs.dtype)
            shifted = outputs - onehot * self.margins.unsqueeze(1)
        else:
            margin = per_decision(self.margins, targets, self.task)
            shifted = outputs - (2.0 * targets - 1.0) * margin
        scaled = shifted * per_member(self.scale, shifted)
        per_example = per_example_cross_entropy(scaled, targets, self.task)
        reweighting = per_member(self.reweighting, self.balanced)
        weights = torch.where(reweighting, self.balanced, torch.ones_like(self.balanced))
        return weighted_mean(per_example, per_decision(weights, targets, self.task))


def _logit_adjusted(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    counts = label_class_counts(ctx.task, ctx.class_counts, ctx.n_train)
    tau = member_param(params, "tau")
    offsets = tau.unsqueeze(-1) * log_prior_offsets(counts, ctx.task)  # (M, C) or (M, L)
    if ctx.task in SIGMOID_TASKS:
        return SigmoidCrossEntropies.for_members(ctx.task, ctx.n_outputs, shift=offsets)
    return LogitAdjustedLoss(offsets)


def _ldam_drw(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    counts = label_class_counts(ctx.task, ctx.class_counts, ctx.n_train)
    max_margin = member_param(params, "max_margin")
    defer_epochs = torch.round(member_param(params, "defer") * ctx.max_epochs)
    beta = torch.full_like(max_margin, DRW_ONE_MINUS_BETA)
    return LDAMDRW(
        ctx.task,
        per_task(ldam_margins(counts, max_margin), ctx.task),
        per_task(effective_number_weights(counts, beta), ctx.task),
        member_param(params, "scale"),
        member_param(params, "lr_factor"),
        defer_epochs,
    )


IMBALANCE_BUILDERS: dict[str, LossBuilder] = {
    "logit_adjusted": _logit_adjusted,
    "ldam_drw": _ldam_drw,
}
