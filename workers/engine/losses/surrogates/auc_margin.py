"""AUC-M (Yuan et al. 2021): the AUC-margin min-max objective with loss-owned ``a``, ``b`` and
``alpha``."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext, member_param
from workers.engine.losses.surrogates.common import loss_variable, take_step


class AUCMargin(Loss):
    """AUC-M, the ``v1`` objective of ``libauc.losses.AUCMLoss`` with a fixed class prior ``p``:

    ``(1 - p) mean((h - a)^2 [y=1]) + p mean((h - b)^2 [y=0])
    + 2 alpha (p (1 - p) m + mean(p h [y=0] - (1 - p) h [y=1])) - p (1 - p) alpha^2``

    Convention: ``h`` is the sigmoid probability; every mean is over the whole batch (the
    indicator zeroes the other class, as LibAUC does); ``p`` is the training split's positive
    fraction (``imratio``), not the batch's; ``m`` is the searched margin. ``a``, ``b`` (primal,
    gradient descent) and ``alpha`` (dual, gradient ascent projected onto ``alpha >= 0``) start
    at 0 and take one SGD step in :meth:`after_step` with step size ``lr_scale`` times the
    member's learning rate (PESG uses the model's learning rate; the scale lets the search undo
    the gap between an SGD step on these variables and an AdamW step on the network).
    """

    margin: Tensor
    lr_scale: Tensor
    a: Tensor
    b: Tensor
    alpha: Tensor

    def __init__(self, margin: Tensor, lr_scale: Tensor, prior: float) -> None:
        super().__init__()
        self.prior = prior
        self.register_buffer("margin", margin)
        self.register_buffer("lr_scale", lr_scale)
        self.register_buffer("a", loss_variable(margin))
        self.register_buffer("b", loss_variable(margin))
        self.register_buffer("alpha", loss_variable(margin))

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        p = self.prior
        scores = torch.sigmoid(outputs)
        positive = (targets > 0.5).to(scores.dtype)
        negative = 1.0 - positive
        a, b, alpha = self.a.unsqueeze(-1), self.b.unsqueeze(-1), self.alpha
        spread_positive = ((scores - a).pow(2) * positive).mean(dim=-1)
        spread_negative = ((scores - b).pow(2) * negative).mean(dim=-1)
        gap = (p * scores * negative - (1.0 - p) * scores * positive).mean(dim=-1)
        return (
            (1.0 - p) * spread_positive
            + p * spread_negative
            + 2.0 * alpha * (p * (1.0 - p) * self.margin + gap)
            - p * (1.0 - p) * alpha.pow(2)
        )

    def after_step(self, learning_rates: Tensor) -> None:
        step = learning_rates.to(self.lr_scale) * self.lr_scale
        take_step(self, "a", step)
        take_step(self, "b", step)
        take_step(self, "alpha", step, ascent=True, nonnegative=True)


def positive_fraction(ctx: LossContext) -> float:
    """The training split's fraction of positives, from the binary class counts."""
    counts = ctx.class_counts.to(torch.float64)
    return float(counts[1] / counts.sum().clamp_min(1.0))


def _auc_m(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    margin, lr_scale = member_param(params, "margin"), member_param(params, "lr_scale")
    return AUCMargin(margin, lr_scale, positive_fraction(ctx))


AUC_MARGIN_BUILDERS: dict[str, LossBuilder] = {"auc_m": _auc_m}
