"""Overlap surrogates from segmentation: the V-Net Dice loss, Tversky and focal Tversky.

All three use the class probabilities of :func:`class_probabilities` (sigmoid for binary — the
positive class only — and for each multilabel label; softmax for multiclass, each class against
one-hot targets) and soft counts summed over the whole batch (one "image" per batch).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext, member_param
from workers.engine.losses.surrogates.common import (
    class_probabilities,
    class_truth,
    mean_over_present,
    soft_counts,
)
from workers.engine.spec import Task

DICE_SMOOTH = 1e-5  # MONAI DiceLoss's smooth_nr and smooth_dr
TVERSKY_EPS = 1e-8  # kornia.losses.tversky_loss's eps
FOCAL_FLOOR = 1e-8  # 1 - TI is floored here before the power 1/gamma (finite gradient at TI = 1)


class SoftDice(Loss):
    """V-Net Dice loss (Milletari et al. 2016): ``1 - mean_c (2 sum p y + s) / (sum p^2 + sum y^2
    + s)`` with ``s = 1e-5``.

    Convention: MONAI's ``DiceLoss(sigmoid/softmax=True, squared_pred=True, batch=True,
    include_background=True, smooth_nr=smooth_dr=1e-5, reduction="mean")`` on a batch laid out as
    one image — sums over the batch, the mean over every class or label (binary: the positive
    class only).

    How it differs from soft_f1: the denominator squares the probabilities, so the gradient of a
    confident prediction is not that of soft F1; and the smoothing ``s`` makes a class with no
    positives in the batch score ``s / (sum p^2 + s)``: its false positives are pushed down,
    where soft_f1 gives such a class a constant 1 with no gradient.
    """

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        probs = class_probabilities(outputs, self.task)
        truth = class_truth(targets, self.task, probs.shape[-1])
        intersection = (probs * truth).sum(dim=1)
        denominator = probs.pow(2).sum(dim=1) + truth.sum(dim=1)  # y^2 = y for 0/1 targets
        dice = (2.0 * intersection + DICE_SMOOTH) / (denominator + DICE_SMOOTH)
        return 1.0 - dice.mean(dim=-1)


class Tversky(Loss):
    """Tversky loss (Salehi et al. 2017) and focal Tversky (Abraham & Khan 2019), one module.

    Per class ``TI_c = tp / (tp + alpha fp + beta fn + 1e-8)`` from the soft counts over the batch
    (``alpha`` weighs false positives, ``beta`` false negatives). Tversky: ``1 - mean_c TI_c``.
    Focal Tversky (members marked ``focal``): ``mean_c (1 - TI_c) ** (1 / gamma)``, with ``1 -
    TI_c`` floored at 1e-8 so the gradient stays finite at a perfect score. The mean runs over the
    classes (labels) that have a positive in the batch, as kornia's ``tversky_loss`` does; with
    none, the loss is 1 with no gradient. Binary uses the positive class only. Members of both
    losses share the module (and so one block of a population).
    """

    fusion_key = "tversky"

    alpha: Tensor
    beta: Tensor
    gamma: Tensor
    focal: Tensor

    def __init__(
        self, task: Task, alpha: Tensor, beta: Tensor, gamma: Tensor, focal: Tensor
    ) -> None:
        super().__init__()
        self.task = task
        self.register_buffer("alpha", alpha)
        self.register_buffer("beta", beta)
        self.register_buffer("gamma", gamma)
        self.register_buffer("focal", focal)
        self.members_changed()

    def members_changed(self) -> None:
        # Which forms the members use.
        self._any_focal = bool(self.focal.any())
        self._all_focal = bool(self.focal.all())

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        probs = class_probabilities(outputs, self.task)
        truth = class_truth(targets, self.task, probs.shape[-1])
        tp, fp, fn = soft_counts(probs, truth)
        alpha, beta = self.alpha.unsqueeze(-1), self.beta.unsqueeze(-1)
        index = tp / (tp + alpha * fp + beta * fn + TVERSKY_EPS)
        present = truth.sum(dim=1) > 0
        per_class = 1.0 - index
        if self._any_focal:
            exponent = 1.0 / self.gamma.unsqueeze(-1)
            focal = (1.0 - index).clamp_min(FOCAL_FLOOR).pow(exponent)
            per_class = (
                focal
                if self._all_focal
                else torch.where(self.focal.unsqueeze(-1), focal, per_class)
            )
        return mean_over_present(per_class, present, empty=1.0)


def _soft_dice(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return SoftDice(ctx.task)


def _tversky(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    alpha, beta = member_param(params, "alpha"), member_param(params, "beta")
    plain = torch.zeros_like(alpha, dtype=torch.bool)
    return Tversky(ctx.task, alpha, beta, torch.ones_like(alpha), plain)


def _focal_tversky(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    alpha, beta = member_param(params, "alpha"), member_param(params, "beta")
    focal = torch.ones_like(alpha, dtype=torch.bool)
    return Tversky(ctx.task, alpha, beta, member_param(params, "gamma"), focal)


OVERLAP_BUILDERS: dict[str, LossBuilder] = {
    "soft_dice": _soft_dice,
    "tversky": _tversky,
    "focal_tversky": _focal_tversky,
}
