"""Asymmetric loss (ASL), averaged over every decision (binary; per label for multilabel).

With p = sigmoid(z) and p_m = max(p - clip, 0): a positive costs -(1 - p) ** gamma_pos * log(p),
a negative -p_m ** gamma_neg * log(1 - p_m). Written with log-sigmoids so that gradients stay
finite at extreme logits.
"""

from typing import Any

import keras
from keras import ops

# The smallest normal number of each float type (torch.finfo(dtype).tiny).
_SMALLEST_NORMAL = {
    "float16": 6.103515625e-05,
    "bfloat16": 1.1754943508222875e-38,
    "float32": 1.1754943508222875e-38,
    "float64": 2.2250738585072014e-308,
}


class AsymmetricLoss(keras.losses.Loss):
    def __init__(self, gamma_pos: float, gamma_neg: float, clip: float) -> None:
        super().__init__(name="asymmetric")
        self.gamma_pos, self.gamma_neg, self.clip = gamma_pos, gamma_neg, clip

    def call(self, y_true: Any, y_pred: Any) -> Any:
        # every decision counts alike: flatten (binary (B,) or (B, 1); multilabel (B, L))
        y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        clip = self.clip
        positive = -ops.exp(self.gamma_pos * ops.log_sigmoid(-y_pred)) * ops.log_sigmoid(y_pred)
        if clip > 0:
            tiny = _SMALLEST_NORMAL[keras.backend.standardize_dtype(y_pred.dtype)]
            log_p_m = ops.log(ops.maximum(ops.sigmoid(y_pred) - clip, tiny))
            # log(1 - p_m) = log(min(1 - p + clip, 1))
            log_not_p_m = ops.minimum(ops.log(ops.sigmoid(-y_pred) + clip), 0.0)
        else:
            log_p_m, log_not_p_m = ops.log_sigmoid(y_pred), ops.log_sigmoid(-y_pred)
        negative = -ops.exp(self.gamma_neg * log_p_m) * log_not_p_m
        return ops.mean(ops.where(y_true > 0.5, positive, negative))


def make_loss(gamma_pos: float, gamma_neg: float, clip: float) -> keras.losses.Loss:
    return AsymmetricLoss(gamma_pos, gamma_neg, clip)
