"""1 - soft F-beta: F-beta with confusion counts from probabilities, over the batch.

Binary: the positive class (sigmoid). Multiclass: each class from softmax probabilities;
multilabel: each label (sigmoid). Averaged over columns as the metric does (average): macro (the
mean of per-column F), micro (counts pooled), samples (per example, then the mean) or weighted
(by each column's positives). beta is the F-beta metric's (1 for F1).
"""

from typing import Any

import keras
from keras import ops


class SoftFBetaLoss(keras.losses.Loss):
    EPSILON = 1e-7

    def __init__(self, task: str, beta: float, average: str) -> None:
        super().__init__(name="soft_f1")
        self.task, self.b2, self.average = task, beta**2, average

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
        return 1.0 - self.averaged_f_beta(probs, truth)

    def f_beta(self, tp: Any, fp: Any, fn: Any) -> Any:
        b2 = self.b2
        return (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp + self.EPSILON)

    def averaged_f_beta(self, probs: Any, truth: Any) -> Any:
        """Soft F-beta of (batch, columns) probabilities, averaged over columns as the metric
        does."""
        # Counts per example over its labels (samples), else per column over the batch.
        axis = 1 if self.average == "samples" else 0
        tp = ops.sum(probs * truth, axis=axis)
        fp = ops.sum(probs * (1 - truth), axis=axis)
        fn = ops.sum((1 - probs) * truth, axis=axis)
        if self.average == "micro":  # counts pooled over the columns too
            return self.f_beta(ops.sum(tp), ops.sum(fp), ops.sum(fn))
        per_column = self.f_beta(tp, fp, fn)
        if self.average == "weighted":  # by each column's positives (the mean if none)
            support = ops.sum(truth, axis=0)
            total = ops.sum(support)
            weighted = ops.sum(per_column * support) / ops.maximum(total, 1.0)
            return ops.where(total > 0, weighted, ops.mean(per_column))
        return ops.mean(per_column)


def make_loss(task: str, metric_beta: float = 1.0, average: str = "macro") -> keras.losses.Loss:
    return SoftFBetaLoss(task, metric_beta, average)
