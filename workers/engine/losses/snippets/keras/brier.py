"""Brier score of the predicted probabilities (Brier 1950), a bounded proper scoring rule.

Binary and multilabel: mean (sigmoid(logit) - y) ** 2 over every decision
(sklearn.metrics.brier_score_loss). Multiclass: mean over examples of
sum_c (softmax(logits)_c - onehot_c) ** 2 (scikit-learn's multiclass Brier score, unscaled);
soft targets (batch, classes) take the place of the one-hot rows.
"""

from typing import Any

import keras
from keras import ops


class BrierScoreLoss(keras.losses.Loss):
    def __init__(self, task: str) -> None:
        super().__init__(name="brier")
        self.task = task

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "multiclass":
            if tuple(y_true.shape) == tuple(y_pred.shape):  # a distribution per row (not codes)
                truth = ops.cast(y_true, y_pred.dtype)
            else:
                codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
                truth = ops.cast(ops.one_hot(codes, y_pred.shape[-1]), y_pred.dtype)
            return ops.mean(ops.sum(ops.square(ops.softmax(y_pred, axis=-1) - truth), axis=-1))
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        return ops.mean(ops.square(ops.sigmoid(y_pred) - y_true))


def make_loss(task: str) -> keras.losses.Loss:
    return BrierScoreLoss(task)
