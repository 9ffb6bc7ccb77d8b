"""sigmoidF1 (Benedict et al. 2022): 1 - soft F-beta of S(u) = sigmoid(slope * (u + offset)).

u is each column's logit: binary the one logit, multilabel each label's, multiclass each
class's own logit one-vs-rest against one-hot targets. Soft counts, F-beta (beta from the
F-beta metric, 1 for F1) and the averaging over columns (average: macro, micro, samples or
weighted, as the metric averages) as in soft_f1.
"""

from typing import Any

import keras
from keras import ops


class SigmoidFBetaLoss(keras.losses.Loss):
    EPSILON = 1e-7

    def __init__(self, task: str, slope: float, offset: float, beta: float, average: str) -> None:
        super().__init__(name="sigmoid_f1")
        self.task, self.slope, self.offset = task, slope, offset
        self.b2, self.average = beta**2, average

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "multiclass":
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            truth = ops.one_hot(codes, y_pred.shape[-1], dtype=y_pred.dtype)
        elif self.task == "multilabel":
            truth = ops.cast(y_true, y_pred.dtype)
        else:
            y_pred = ops.reshape(y_pred, (-1, 1))
            truth = ops.reshape(ops.cast(y_true, y_pred.dtype), (-1, 1))
        probs = ops.sigmoid(self.slope * (y_pred + self.offset))
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


def make_loss(
    task: str, slope: float, offset: float, metric_beta: float = 1.0, average: str = "macro"
) -> keras.losses.Loss:
    return SigmoidFBetaLoss(task, slope, offset, metric_beta, average)
