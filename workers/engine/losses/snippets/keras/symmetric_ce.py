"""Symmetric cross-entropy (Wang et al. 2019): mean alpha * CE + beta * RCE over decisions.

RCE is the reverse cross-entropy of the one-hot label with log 0 taken as -4: 4 * (1 - p_y),
p_y being each decision's probability of its true class (sigmoid for binary and each multilabel
label, softmax for multiclass), computed as exp(-CE).
"""

from typing import Any

import keras
from keras import ops


class SymmetricCrossEntropyLoss(keras.losses.Loss):
    def __init__(self, task: str, alpha: float, beta: float) -> None:
        super().__init__(name="symmetric_ce")
        self.task, self.alpha, self.beta = task, alpha, beta

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "multiclass":
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            onehot = ops.cast(ops.one_hot(codes, y_pred.shape[-1]), y_pred.dtype)
            ce = -ops.sum(onehot * ops.log_softmax(y_pred, axis=-1), axis=-1)
        else:
            if self.task == "binary":
                y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
            ce = ops.binary_crossentropy(y_true, y_pred, from_logits=True)
        reverse = 4.0 * (1.0 - ops.exp(-ce))
        return ops.mean(self.alpha * ce + self.beta * reverse)


def make_loss(task: str, alpha: float, beta: float) -> keras.losses.Loss:
    return SymmetricCrossEntropyLoss(task, alpha, beta)
