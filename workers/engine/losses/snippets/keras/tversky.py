"""Tversky loss (Salehi et al. 2017): 1 - mean over classes of tp / (tp + alpha fp + beta fn +
1e-8), soft counts over the batch.

Probabilities: sigmoid (binary: the positive class only; multilabel: each label) or softmax
(multiclass: each class against one-hot targets). The mean runs over the classes with a positive
in the batch; with none the loss is 1.
"""

from typing import Any

import keras
from keras import ops


class TverskyLoss(keras.losses.Loss):
    EPS = 1e-8

    def __init__(self, task: str, alpha: float, beta: float) -> None:
        super().__init__(name="tversky")
        self.task, self.alpha, self.beta = task, alpha, beta

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "multiclass":
            probs = ops.softmax(y_pred, axis=-1)
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            truth = ops.one_hot(codes, y_pred.shape[-1], dtype=probs.dtype)
        elif self.task == "multilabel":
            probs, truth = ops.sigmoid(y_pred), ops.cast(y_true, y_pred.dtype)
        else:
            probs = ops.reshape(ops.sigmoid(y_pred), (-1, 1))
            truth = ops.reshape(ops.cast(y_true, y_pred.dtype), (-1, 1))
        tp = ops.sum(probs * truth, axis=0)
        fp = ops.sum(probs * (1 - truth), axis=0)
        fn = ops.sum((1 - probs) * truth, axis=0)
        index = tp / (tp + self.alpha * fp + self.beta * fn + self.EPS)
        # The mean over the classes with a positive in the batch; 1 (no gradient) with none.
        present = ops.cast(ops.sum(truth, axis=0) > 0, probs.dtype)
        n_present = ops.sum(present)
        mean = ops.sum((1.0 - index) * present) / ops.maximum(n_present, 1.0)
        return ops.where(n_present > 0, mean, 1.0)


def make_loss(task: str, alpha: float, beta: float) -> keras.losses.Loss:
    return TverskyLoss(task, alpha, beta)
