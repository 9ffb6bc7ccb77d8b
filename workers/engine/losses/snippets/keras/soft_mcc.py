"""1 - Matthews correlation from soft confusion counts over the batch.

Binary (positive class) and multilabel (each label, then the mean): sigmoid probabilities, each
of tp, tn, fp, fn plus 1e-5, MCC = (tp tn - fp fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)).
Multiclass: Gorodkin's R_K from softmax probabilities, (c s - sum p_k t_k) /
sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)) with the product under the root floored at 1e-12;
0 when every target is in one class.
"""

from typing import Any

import keras
from keras import ops


class SoftMCCLoss(keras.losses.Loss):
    EPS = 1e-5
    FLOOR = 1e-12

    def __init__(self, task: str) -> None:
        super().__init__(name="soft_mcc")
        self.task = task

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "multiclass":
            probs = ops.softmax(y_pred, axis=-1)
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            truth = ops.one_hot(codes, y_pred.shape[-1], dtype=probs.dtype)
            size = ops.cast(ops.shape(y_pred)[0], probs.dtype)
            predicted, actual = ops.sum(probs, axis=0), ops.sum(truth, axis=0)
            covariance = ops.sum(probs * truth) * size - ops.sum(predicted * actual)
            spread_predicted = size * size - ops.sum(predicted**2)
            spread_actual = size * size - ops.sum(actual**2)
            product = ops.maximum(spread_predicted * spread_actual, self.FLOOR)
            # Every target in one class: MCC 0 (loss 1, no gradient).
            return ops.where(spread_actual == 0, 1.0, 1.0 - covariance / ops.sqrt(product))
        if self.task == "multilabel":
            probs, truth = ops.sigmoid(y_pred), ops.cast(y_true, y_pred.dtype)
        else:
            probs = ops.reshape(ops.sigmoid(y_pred), (-1, 1))
            truth = ops.reshape(ops.cast(y_true, y_pred.dtype), (-1, 1))
        tp = ops.sum(probs * truth, axis=0) + self.EPS
        tn = ops.sum((1 - probs) * (1 - truth), axis=0) + self.EPS
        fp = ops.sum(probs * (1 - truth), axis=0) + self.EPS
        fn = ops.sum((1 - probs) * truth, axis=0) + self.EPS
        mcc = (tp * tn - fp * fn) / ops.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return 1.0 - ops.mean(mcc)


def make_loss(task: str) -> keras.losses.Loss:
    return SoftMCCLoss(task)
