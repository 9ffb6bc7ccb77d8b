"""Weighted regression losses: MAE weighted by ``1 / |y|``, the loss consistent for MAPE."""

from __future__ import annotations

from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder
from workers.engine.losses.proxy_regression import original_targets

# |y| is floored at this fraction of target_scale (the training mean of |y|), capping any weight
# at 1 / MAPE_FLOOR times that of a typical example.
MAPE_FLOOR = 0.01


class MapeWeightedAbsoluteError(Loss):
    """Mean of ``w_i |output_i - target_i|`` with ``w_i = target_scale / max(|y_i|, floor)``.

    ``y_i = target_i * target_std + target_mean`` is the target in its own units and
    ``floor = MAPE_FLOOR * target_scale``. The residual stays in standardised units, so
    the loss is ``(target_scale / target_std) * mean(|y_hat - y| / max(|y|, floor))``: MAPE up to
    a constant factor wherever ``|y| >= floor``, and the MAE of the standardised targets when
    every ``|y|`` equals ``target_scale``. Its minimiser is the median of ``y`` weighted by
    ``1 / |y|``, the MAPE-optimal point prediction (de Myttenaere et al. 2016).
    """

    def __init__(self, target_mean: float, target_std: float, target_scale: float) -> None:
        super().__init__()
        self.target_mean = target_mean
        self.target_std = target_std
        self.target_scale = target_scale

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        magnitude = original_targets(targets, self.target_mean, self.target_std).abs()
        weights = self.target_scale / magnitude.clamp_min(MAPE_FLOOR * self.target_scale)
        return (weights * (outputs - targets).abs()).mean(dim=-1)


REGRESSION_WEIGHTED_BUILDERS: dict[str, LossBuilder] = {
    "mape_weighted_mae": lambda params, ctx: MapeWeightedAbsoluteError(
        ctx.target_mean, ctx.target_std, ctx.target_scale
    ),
}
