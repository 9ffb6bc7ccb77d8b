"""Lovasz-softmax (Berman et al. 2018): per class, the Lovasz extension of the Jaccard loss at
the errors |y_c - p_c| of the softmax probabilities over the whole batch, averaged over the
classes present in the batch.
"""

from typing import Any

import keras
from keras import ops


class LovaszSoftmaxLoss(keras.losses.Loss):
    def __init__(self) -> None:
        super().__init__(name="lovasz_softmax")

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
        probs = ops.softmax(y_pred, axis=-1)
        codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        truth = ops.cast(ops.one_hot(codes, y_pred.shape[-1]), probs.dtype)
        per_class = self.lovasz_extension(ops.abs(truth - probs), truth)
        # Mean over the classes present in the batch.
        present = ops.cast(ops.sum(truth, axis=0) > 0.0, per_class.dtype)
        return ops.sum(per_class * present) / ops.sum(present)


def make_loss() -> keras.losses.Loss:
    return LovaszSoftmaxLoss()
