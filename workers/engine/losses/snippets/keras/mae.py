"""Mean absolute error."""

from typing import Any

import keras
from keras import ops


class MeanAbsoluteErrorLoss(keras.losses.Loss):
    def __init__(self) -> None:
        super().__init__(name="mae")

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return ops.mean(ops.abs(ops.reshape(y_pred, (-1,)) - ops.reshape(y_true, (-1,))))


def make_loss() -> keras.losses.Loss:
    return MeanAbsoluteErrorLoss()
