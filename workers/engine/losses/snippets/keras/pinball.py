"""Pinball (quantile) loss at level tau: mean of max(tau * r, (tau - 1) * r), r = target - output.

Targets and outputs are standardised; in the target's units the loss is this times its
standard deviation.
"""

from typing import Any

import keras
from keras import ops


class PinballLoss(keras.losses.Loss):
    def __init__(self, tau: float) -> None:
        super().__init__(name="pinball")
        self.tau = tau

    def call(self, y_true: Any, y_pred: Any) -> Any:
        residual = ops.reshape(y_true, (-1,)) - ops.reshape(y_pred, (-1,))
        return ops.mean(ops.maximum(self.tau * residual, (self.tau - 1.0) * residual))


def make_loss(tau: float) -> keras.losses.Loss:
    return PinballLoss(tau)
