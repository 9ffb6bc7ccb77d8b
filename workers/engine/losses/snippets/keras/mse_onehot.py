"""Square loss of the logits (no softmax) against one-hot targets (Hui & Belkin 2021).

Multiclass: mean over classes and examples of (z_c - onehot_c) ** 2. Binary and multilabel: each
logit regresses the signed target 2y - 1, so the decision stays at z = 0.
"""

from typing import Any

import keras
from keras import ops


class OneHotSquareLoss(keras.losses.Loss):
    def __init__(self, task: str) -> None:
        super().__init__(name="mse_onehot")
        self.task = task

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "multiclass":
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            onehot = ops.cast(ops.one_hot(codes, y_pred.shape[-1]), y_pred.dtype)
            return ops.mean(ops.square(y_pred - onehot))
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        return ops.mean(ops.square(y_pred - (2.0 * y_true - 1.0)))


def make_loss(task: str) -> keras.losses.Loss:
    return OneHotSquareLoss(task)
