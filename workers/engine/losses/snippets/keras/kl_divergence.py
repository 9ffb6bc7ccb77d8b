"""KL divergence from each row's target distribution to the softmax (Kullback and Leibler 1951).

Mean over rows of sum_c t_c (log t_c - log softmax(logits)_c): soft cross-entropy minus the
entropy of the targets (0 log 0 = 0), so the same gradient as cross-entropy and 0 at a perfect
fit. Targets are distributions (batch, classes); integer class targets count as one-hot rows.
"""

from typing import Any

import keras
from keras import ops


class KLDivergenceLoss(keras.losses.Loss):
    def __init__(self) -> None:
        super().__init__(name="kl_divergence")

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if tuple(y_true.shape) == tuple(y_pred.shape):  # a distribution per row (not codes)
            truth = ops.cast(y_true, y_pred.dtype)
        else:
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            truth = ops.cast(ops.one_hot(codes, y_pred.shape[-1]), y_pred.dtype)
        # t log t with 0 log 0 = 0 (the targets carry no gradient).
        safe = ops.where(truth > 0.0, truth, ops.ones_like(truth))
        entropy = -ops.sum(truth * ops.log(safe), axis=-1)
        cross_entropy = -ops.sum(truth * ops.log_softmax(y_pred, axis=-1), axis=-1)
        return ops.mean(cross_entropy - entropy)


def make_loss(task: str) -> keras.losses.Loss:
    return KLDivergenceLoss()
