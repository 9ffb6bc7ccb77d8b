"""Huber loss: quadratic within delta of the target, linear beyond."""

from typing import Any

import keras
from keras import ops


class HuberLoss(keras.losses.Loss):
    def __init__(self, delta: float) -> None:
        super().__init__(name="huber")
        self.delta = delta

    def call(self, y_true: Any, y_pred: Any) -> Any:
        residual = ops.reshape(y_pred, (-1,)) - ops.reshape(y_true, (-1,))
        size = ops.abs(residual)
        # torch's huber_loss: 0.5 r^2 if |r| < delta, else delta (|r| - delta / 2).
        return ops.mean(
            ops.where(
                size < self.delta,
                0.5 * ops.square(residual),
                self.delta * (size - 0.5 * self.delta),
            )
        )


def make_loss(delta: float) -> keras.losses.Loss:
    return HuberLoss(delta)
