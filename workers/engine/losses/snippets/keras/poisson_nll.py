"""Poisson negative log-likelihood with a log link.

The model's output is the log of its prediction in units of target_scale: predict
exp(output) * target_scale. Targets arrive standardised, so they are first put back in their own
units (target * target_std + target_mean), divided by target_scale and clipped at 0.
The loss is torch's poisson_nll_loss(log_input=True, full=False): mean exp(output) - count *
output.
"""

from typing import Any

import keras
from keras import ops


class PoissonNLLLoss(keras.losses.Loss):
    def __init__(self, target_mean: float, target_std: float, target_scale: float) -> None:
        super().__init__(name="poisson_nll")
        self.target_mean, self.target_std = target_mean, target_std
        self.target_scale = target_scale

    def call(self, y_true: Any, y_pred: Any) -> Any:
        outputs = ops.reshape(y_pred, (-1,))
        amounts = ops.reshape(y_true, (-1,)) * self.target_std + self.target_mean
        counts = ops.maximum(amounts / self.target_scale, 0.0)
        return ops.mean(ops.exp(outputs) - counts * outputs)


def make_loss(target_mean: float, target_std: float, target_scale: float) -> keras.losses.Loss:
    return PoissonNLLLoss(target_mean, target_std, target_scale)
