"""Logit-adjusted cross-entropy: cross-entropy of logits + tau * log(prior), for training only.

Multiclass: priors n_c / n. Binary: the logit is shifted by tau * log(n_1 / n_0); multilabel:
each label by tau * log(positives / negatives). Counts are clamped at 1. Predict with the raw
logits.
"""

import math
from typing import Any

import keras
from keras import ops


class LogitAdjustedLoss(keras.losses.Loss):
    def __init__(self, task: str, offsets: list[float]) -> None:
        super().__init__(name="logit_adjusted")
        self.task = task
        self.offsets = offsets  # (C,) multiclass, (labels,) multilabel, (1,) binary

    def call(self, y_true: Any, y_pred: Any) -> Any:
        offsets = ops.convert_to_tensor(self.offsets, dtype=y_pred.dtype)
        if self.task == "multiclass":
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            log_p = ops.log_softmax(y_pred + offsets, axis=-1)
            return -ops.mean(ops.take_along_axis(log_p, codes[:, None], axis=-1))
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        adjusted = y_pred + offsets
        return ops.mean(ops.binary_crossentropy(y_true, adjusted, from_logits=True))


def make_loss(task: str, tau: float, class_counts: list[float], n_train: int) -> keras.losses.Loss:
    if task == "multiclass":
        counts = [max(c, 1.0) for c in class_counts]
        offsets = [tau * math.log(c / sum(counts)) for c in counts]
    elif task == "multilabel":
        offsets = [
            tau * (math.log(max(c, 1.0)) - math.log(max(n_train - c, 1.0))) for c in class_counts
        ]
    else:
        counts = [max(c, 1.0) for c in class_counts]
        offsets = [tau * (math.log(counts[1]) - math.log(counts[0]))]
    return LogitAdjustedLoss(task, offsets)
