"""Absolute error weighted by 1 / |y|: the loss whose minimiser is optimal for MAPE.

y is the target in its own units (targets arrive standardised); |y| is floored at 1% of
target_scale (the training mean of |y|) and the weights are relative to target_scale.
"""

from typing import Any

import keras
from keras import ops


class MAPEWeightedMAELoss(keras.losses.Loss):
    def __init__(self, target_mean: float, target_std: float, target_scale: float) -> None:
        super().__init__(name="mape_weighted_mae")
        self.target_mean, self.target_std, self.target_scale = (
            target_mean,
            target_std,
            target_scale,
        )

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        magnitude = ops.abs(y_true * self.target_std + self.target_mean)
        weights = self.target_scale / ops.maximum(magnitude, 0.01 * self.target_scale)
        return ops.mean(weights * ops.abs(y_pred - y_true))


def make_loss(target_mean: float, target_std: float, target_scale: float) -> keras.losses.Loss:
    return MAPEWeightedMAELoss(target_mean, target_std, target_scale)
