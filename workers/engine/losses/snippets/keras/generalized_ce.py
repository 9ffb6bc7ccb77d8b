"""Generalised cross-entropy (Zhang & Sabuncu 2018): mean (1 - p_y^q) / q over decisions.

p_y is each decision's probability of its true class: sigmoid for binary and each multilabel
label, softmax for multiclass; p_y^q is computed as exp(-q * CE) from the cross-entropy CE.
"""

from typing import Any

import keras
from keras import ops


class GeneralizedCrossEntropyLoss(keras.losses.Loss):
    def __init__(self, task: str, q: float) -> None:
        super().__init__(name="generalized_ce")
        self.task, self.q = task, q

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "multiclass":
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            onehot = ops.cast(ops.one_hot(codes, y_pred.shape[-1]), y_pred.dtype)
            ce = -ops.sum(onehot * ops.log_softmax(y_pred, axis=-1), axis=-1)
        else:
            if self.task == "binary":
                y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
            ce = ops.binary_crossentropy(y_true, y_pred, from_logits=True)
        return ops.mean((1.0 - ops.exp(-self.q * ce)) / self.q)


def make_loss(task: str, q: float) -> keras.losses.Loss:
    return GeneralizedCrossEntropyLoss(task, q)
