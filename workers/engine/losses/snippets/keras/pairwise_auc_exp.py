"""Pairwise exponential AUC loss: mean exp(-(s_pos - s_neg)) over the batch's pairs of logits,
continued by its tangent below a difference of -20 so it stays finite. Multilabel: each label's
pairs, then the mean over the labels that have pairs. A batch without pairs gives 0.
"""

import math
from typing import Any

import keras
from keras import ops


class PairwiseExponentialAUCLoss(keras.losses.Loss):
    LINEAR_FROM = 20.0

    def __init__(self, task: str) -> None:
        super().__init__(name="pairwise_auc_exp")
        self.task = task

    def exponential(self, t: Any) -> Any:
        tail = math.exp(self.LINEAR_FROM) * (1.0 - self.LINEAR_FROM - t)
        inside = ops.exp(-ops.maximum(t, -self.LINEAR_FROM))
        return ops.where(t >= -self.LINEAR_FROM, inside, tail)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1, 1)), ops.reshape(y_pred, (-1, 1))
        positive = ops.cast(y_true > 0.5, y_pred.dtype)
        # [i, j, k] = s_ik - s_jk, weighted 1 where i is a positive and j a negative of label k.
        margins = y_pred[:, None, :] - y_pred[None, :, :]
        pairs = positive[:, None, :] * (1.0 - positive)[None, :, :]
        n_pairs = ops.sum(pairs, axis=(0, 1))
        per_label = ops.sum(self.exponential(margins) * pairs, axis=(0, 1))
        per_label = per_label / ops.maximum(n_pairs, 1.0)
        # The mean over the labels that have pairs; 0 when none does.
        has_pairs = ops.cast(n_pairs > 0, y_pred.dtype)
        n_labels = ops.sum(has_pairs)
        return ops.sum(per_label * has_pairs) / ops.maximum(n_labels, 1.0)


def make_loss(task: str) -> keras.losses.Loss:
    return PairwiseExponentialAUCLoss(task)
