"""Squared hinge loss on the logits: max(0, margin - s * z) ** 2 with s = 2y - 1, averaged over
every decision.

Binary uses the single logit; multilabel applies it to every (example, label); multiclass is
torch's multi_margin_loss with p=2: sum over j != y of max(0, margin - z_y + z_j) ** 2 / C, mean
over the batch.
"""

from typing import Any

import keras
from keras import ops


class SquaredHingeLoss(keras.losses.Loss):
    def __init__(self, task: str, margin: float) -> None:
        super().__init__(name="squared_hinge")
        self.task, self.margin = task, margin

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "multiclass":
            n_classes = y_pred.shape[-1]
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            onehot = ops.cast(ops.one_hot(codes, n_classes), y_pred.dtype)
            true_logit = ops.sum(onehot * y_pred, axis=-1, keepdims=True)
            violations = ops.relu(self.margin - true_logit + y_pred) * (1.0 - onehot)
            return ops.mean(ops.sum(ops.square(violations), axis=-1) / n_classes)
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        return ops.mean(ops.square(ops.relu(self.margin - (2.0 * y_true - 1.0) * y_pred)))


def make_loss(task: str, margin: float) -> keras.losses.Loss:
    return SquaredHingeLoss(task, margin)
