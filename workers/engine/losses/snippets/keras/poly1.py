"""Poly-1 loss: cross-entropy + epsilon * (1 - p_t), averaged over every decision.

Multiclass uses softmax p_t; binary and multilabel use sigmoid p_t per decision, with
1 - p_t = sigmoid(-z_t) where z_t is the logit of the true class (z for y = 1, -z for y = 0).
"""

from typing import Any

import keras
from keras import ops


class Poly1Loss(keras.losses.Loss):
    def __init__(self, task: str, epsilon: float) -> None:
        super().__init__(name="poly1")
        self.task, self.epsilon = task, epsilon

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "multiclass":
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            log_p = ops.log_softmax(y_pred, axis=-1)
            log_p = ops.take_along_axis(log_p, codes[:, None], axis=-1)[:, 0]
            return ops.mean(-log_p + self.epsilon * (1.0 - ops.exp(log_p)))
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        z_t = ops.where(y_true > 0.5, y_pred, -y_pred)
        return ops.mean(-ops.log_sigmoid(z_t) + self.epsilon * ops.sigmoid(-z_t))


def make_loss(task: str, epsilon: float) -> keras.losses.Loss:
    return Poly1Loss(task, epsilon)
