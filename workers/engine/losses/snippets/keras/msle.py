"""Squared logarithmic error, mean (log(1 + prediction) - log(1 + y)) ** 2, with a log link.

The model's output is the log of its prediction in units of target_scale: predict
exp(output) * target_scale, which is positive, so log(1 + prediction) is
softplus(output + log(target_scale)) exactly. Targets arrive standardised, so they are first put
back in their own units (target * target_std + target_mean) and clipped at 0.
"""

import math
from typing import Any

import keras
from keras import ops


class SquaredLogErrorLoss(keras.losses.Loss):
    def __init__(self, target_mean: float, target_std: float, target_scale: float) -> None:
        super().__init__(name="msle")
        self.target_mean, self.target_std = target_mean, target_std
        self.log_scale = math.log(target_scale)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        outputs = ops.reshape(y_pred, (-1,))
        amounts = ops.maximum(ops.reshape(y_true, (-1,)) * self.target_std + self.target_mean, 0.0)
        return ops.mean(ops.square(ops.softplus(outputs + self.log_scale) - ops.log1p(amounts)))


def make_loss(target_mean: float, target_std: float, target_scale: float) -> keras.losses.Loss:
    return SquaredLogErrorLoss(target_mean, target_std, target_scale)
