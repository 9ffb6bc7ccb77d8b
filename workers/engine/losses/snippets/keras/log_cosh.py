"""Mean log(cosh(output - target)), in the stable form |r| + softplus(-2|r|) - log 2."""

import math
from typing import Any

import keras
from keras import ops


class LogCoshLoss(keras.losses.Loss):
    def __init__(self) -> None:
        super().__init__(name="log_cosh")

    def call(self, y_true: Any, y_pred: Any) -> Any:
        residual = ops.abs(ops.reshape(y_pred, (-1,)) - ops.reshape(y_true, (-1,)))
        return ops.mean(residual + ops.softplus(-2.0 * residual) - math.log(2.0))


def make_loss() -> keras.losses.Loss:
    return LogCoshLoss()
