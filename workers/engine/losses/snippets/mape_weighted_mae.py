"""Absolute error weighted by 1 / |y|: the loss whose minimiser is optimal for MAPE.

y is the target in its own units (targets arrive standardised); |y| is floored at 1% of
target_scale (the training mean of |y|) and the weights are relative to target_scale.
"""

from collections.abc import Callable

import torch


def make_loss(
    target_mean: float, target_std: float, target_scale: float
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        magnitude = (targets * target_std + target_mean).abs()
        weights = target_scale / magnitude.clamp_min(0.01 * target_scale)
        return (weights * (outputs - targets).abs()).mean()

    return loss_fn
