"""Cross-entropy: BCE on one logit (binary; per label for multilabel) or softmax cross-entropy
(against each row's distribution for soft targets)."""

from typing import Any

import keras
from keras import ops


class CrossEntropyLoss(keras.losses.Loss):
    def __init__(self, task: str) -> None:
        super().__init__(name="cross_entropy")
        self.task = task

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "multiclass":
            log_p = ops.log_softmax(y_pred, axis=-1)
            if tuple(y_true.shape) == tuple(y_pred.shape):  # a distribution per row (not codes)
                return -ops.mean(ops.sum(y_true * log_p, axis=-1))
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            return -ops.mean(ops.sum(ops.one_hot(codes, y_pred.shape[-1]) * log_p, axis=-1))
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=True))


def make_loss(task: str) -> keras.losses.Loss:
    return CrossEntropyLoss(task)
