"""1 - Smooth-AP (Brown et al. 2020) on sigmoid probabilities p.

For each positive i: R_P(i) = 1 + sum over other positives j of sigmoid((p_j - p_i) / tau),
R(i) = R_P(i) + sum over negatives j of sigmoid((p_j - p_i) / tau); AP = mean of R_P / R over
the positives. A batch without positives gives 0.
"""

from typing import Any

import keras
from keras import ops


class SmoothAPLoss(keras.losses.Loss):
    def __init__(self, temperature: float) -> None:
        super().__init__(name="smooth_ap")
        self.temperature = temperature

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        probs = ops.sigmoid(y_pred)
        positive = ops.cast(y_true > 0.5, probs.dtype)
        differences = probs[None, :] - probs[:, None]  # [i, j] = p_j - p_i
        others = 1.0 - ops.eye(ops.shape(probs)[0], dtype=probs.dtype)
        above = ops.sigmoid(differences / self.temperature) * others
        rank_positive = 1.0 + ops.sum(above * positive[None, :], axis=1)
        rank_all = 1.0 + ops.sum(above, axis=1)
        # The mean over the positives; 0 when the batch has none.
        n_positive = ops.sum(positive)
        precision = ops.sum(rank_positive / rank_all * positive) / ops.maximum(n_positive, 1.0)
        return ops.where(n_positive > 0, 1.0 - precision, 0.0)


def make_loss(temperature: float) -> keras.losses.Loss:
    return SmoothAPLoss(temperature)
