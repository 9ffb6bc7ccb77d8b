"""Regression surrogates for metrics that are not themselves a per-example loss: R² and the
median absolute error."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext

VARIANCE_FLOOR = 1e-3  # in standardised units: 1e-3 of the training variance


class R2Loss(Loss):
    """``1 - R^2`` on the batch: ``sum (y - f)^2 / sum (y - mean y)^2``.

    Convention: targets are standardised (training variance 1) and the batch's total sum of
    squares is floored at ``B * 1e-3``, so a batch of one example or of equal targets gives
    1000 times its mean squared error instead of dividing by zero. Otherwise it equals
    ``1 - torchmetrics.functional.r2_score`` on the batch.
    """

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        residual = (targets - outputs).pow(2).sum(dim=-1)
        centred = targets - targets.mean(dim=-1, keepdim=True)
        total = centred.pow(2).sum(dim=-1).clamp_min(VARIANCE_FLOOR * targets.shape[-1])
        return residual / total


class MedianAbsoluteError(Loss):
    """The batch's median absolute residual (least median of squares, Rousseeuw 1984).

    Convention: ``numpy.median`` of ``|y - f|`` — the mean of the two middle values for an even
    batch — so its (sub)gradient reaches only the one or two examples at the median; the
    residuals are in standardised units.
    """

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        ordered, _ = torch.sort((targets - outputs).abs(), dim=-1)
        size = ordered.shape[-1]
        return 0.5 * (ordered[..., (size - 1) // 2] + ordered[..., size // 2])


def _r2(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return R2Loss()


def _median_ae(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return MedianAbsoluteError()


REGRESSION_SURROGATE_BUILDERS: dict[str, LossBuilder] = {
    "r2_loss": _r2,
    "median_ae_loss": _median_ae,
}
