"""1 - R^2 of the batch: sum (y - f)^2 / sum (y - mean y)^2, on standardised targets, with the
denominator floored at batch * 1e-3 (a batch of one example or of equal targets)."""

from typing import Any

import keras
from keras import ops

R2_VARIANCE_FLOOR = 1e-3


class R2Loss(keras.losses.Loss):
    def __init__(self) -> None:
        super().__init__(name="r2_loss")

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        residual = ops.sum(ops.square(y_true - y_pred))
        size = ops.cast(ops.shape(y_true)[0], y_pred.dtype)
        total = ops.sum(ops.square(y_true - ops.mean(y_true)))
        return residual / ops.maximum(total, R2_VARIANCE_FLOOR * size)


def make_loss() -> keras.losses.Loss:
    return R2Loss()
