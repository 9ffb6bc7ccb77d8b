"""Median absolute residual of the batch (least median of squares, Rousseeuw 1984), on
standardised targets: numpy's median, the mean of the two middle values for an even batch."""

from typing import Any

import keras
from keras import ops


class MedianAbsoluteErrorLoss(keras.losses.Loss):
    def __init__(self) -> None:
        super().__init__(name="median_ae_loss")

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        ordered = ops.sort(ops.abs(y_true - y_pred))
        size = ops.shape(ordered)[0]
        return 0.5 * (ops.take(ordered, (size - 1) // 2) + ops.take(ordered, size // 2))


def make_loss() -> keras.losses.Loss:
    return MedianAbsoluteErrorLoss()
