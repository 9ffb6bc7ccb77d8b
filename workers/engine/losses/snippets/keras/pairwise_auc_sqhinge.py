"""Pairwise squared-hinge AUC loss: mean max(0, margin - (s_pos - s_neg))^2 over the batch's
pairs of logits. Multilabel: each label's pairs, then the mean over the labels that have pairs.
A batch without pairs gives 0.
"""

from typing import Any

import keras
from keras import ops


class PairwiseSquaredHingeAUCLoss(keras.losses.Loss):
    def __init__(self, task: str, margin: float) -> None:
        super().__init__(name="pairwise_auc_sqhinge")
        self.task, self.margin = task, margin

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1, 1)), ops.reshape(y_pred, (-1, 1))
        positive = ops.cast(y_true > 0.5, y_pred.dtype)
        # [i, j, k] = s_ik - s_jk, weighted 1 where i is a positive and j a negative of label k.
        margins = y_pred[:, None, :] - y_pred[None, :, :]
        pairs = positive[:, None, :] * (1.0 - positive)[None, :, :]
        n_pairs = ops.sum(pairs, axis=(0, 1))
        hinge = ops.square(ops.relu(self.margin - margins))
        per_label = ops.sum(hinge * pairs, axis=(0, 1)) / ops.maximum(n_pairs, 1.0)
        # The mean over the labels that have pairs; 0 when none does.
        has_pairs = ops.cast(n_pairs > 0, y_pred.dtype)
        n_labels = ops.sum(has_pairs)
        return ops.sum(per_label * has_pairs) / ops.maximum(n_labels, 1.0)


def make_loss(task: str, margin: float) -> keras.losses.Loss:
    return PairwiseSquaredHingeAUCLoss(task, margin)
