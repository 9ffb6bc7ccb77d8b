"""Lovasz hinge (Berman et al. 2018): the Lovasz extension of the Jaccard loss at the hinge
errors max(0, 1 - logit * (2y - 1)), over the whole batch. Multilabel: each label, then the mean
over all labels.
"""

from typing import Any

import keras
from keras import ops


class LovaszHingeLoss(keras.losses.Loss):
    def __init__(self, task: str) -> None:
        super().__init__(name="lovasz_hinge")
        self.task = task

    @staticmethod
    def lovasz_extension(errors: Any, truth: Any) -> Any:
        """Per column of (batch, columns): errors sorted in decreasing order, dotted with the
        increments of the Jaccard loss along that order (Algorithm 1 of the paper)."""
        order = ops.argsort(-ops.stop_gradient(errors), axis=0)  # decreasing errors
        sorted_errors = ops.take_along_axis(errors, order, axis=0)
        sorted_truth = ops.take_along_axis(truth, order, axis=0)
        positives = ops.sum(sorted_truth, axis=0, keepdims=True)
        intersection = positives - ops.cumsum(sorted_truth, axis=0)
        union = positives + ops.cumsum(1.0 - sorted_truth, axis=0)
        jaccard = 1.0 - intersection / union
        weights = ops.concatenate([jaccard[:1], jaccard[1:] - jaccard[:-1]], axis=0)
        return ops.sum(sorted_errors * weights, axis=0)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1, 1)), ops.reshape(y_pred, (-1, 1))
        truth = ops.cast(y_true, y_pred.dtype)
        errors = ops.relu(1.0 - y_pred * (2.0 * truth - 1.0))
        return ops.mean(self.lovasz_extension(errors, truth))


def make_loss(task: str) -> keras.losses.Loss:
    return LovaszHingeLoss(task)
