"""Mean pseudo-Huber loss delta^2 * (sqrt(1 + ((output - target) / delta)^2) - 1).

Outputs and targets are standardised, so delta is in target standard deviations.
"""

from typing import Any

import keras
from keras import ops


class PseudoHuberLoss(keras.losses.Loss):
    def __init__(self, delta: float) -> None:
        super().__init__(name="pseudo_huber")
        self.delta = delta

    def call(self, y_true: Any, y_pred: Any) -> Any:
        residual = ops.reshape(y_pred, (-1,)) - ops.reshape(y_true, (-1,))
        squared = ops.square(residual / self.delta)
        # sqrt(1 + s) - 1 as s / (sqrt(1 + s) + 1): exact for small residuals too.
        return ops.mean(self.delta**2 * squared / (ops.sqrt(1.0 + squared) + 1.0))


def make_loss(delta: float) -> keras.losses.Loss:
    return PseudoHuberLoss(delta)
