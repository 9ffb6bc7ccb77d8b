"""Focal loss, -alpha_t * (1 - p_t) ** gamma * log(p_t), averaged over every decision.

Binary and multilabel use sigmoid probabilities with alpha_t = alpha for positives and
1 - alpha for negatives (torchvision.ops.sigmoid_focal_loss); multiclass uses softmax
probabilities and no alpha.
"""

from typing import Any

import keras
from keras import ops


class FocalLoss(keras.losses.Loss):
    def __init__(self, task: str, gamma: float, alpha: float) -> None:
        super().__init__(name="focal")
        self.task, self.gamma, self.alpha = task, gamma, alpha

    def call(self, y_true: Any, y_pred: Any) -> Any:
        gamma, alpha = self.gamma, self.alpha
        if self.task == "multiclass":
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            log_p = ops.log_softmax(y_pred, axis=-1)
            log_p_true = ops.take_along_axis(log_p, codes[:, None], axis=-1)[:, 0]
            is_true = ops.one_hot(codes, y_pred.shape[-1]) > 0.5
            others = ops.where(is_true, float("-inf"), y_pred)
            # log(1 - p_t) from the other classes' logits stays finite when p_t -> 1
            log_p_other = ops.logsumexp(others, axis=-1) - ops.logsumexp(y_pred, axis=-1)
            return ops.mean(-ops.exp(gamma * log_p_other) * log_p_true)
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        positive = y_true > 0.5
        signed = ops.where(positive, y_pred, -y_pred)
        alpha_t = ops.where(positive, alpha, 1.0 - alpha)
        focal = -alpha_t * ops.exp(gamma * ops.log_sigmoid(-signed)) * ops.log_sigmoid(signed)
        return ops.mean(focal)


def make_loss(task: str, gamma: float, alpha: float = 0.25) -> keras.losses.Loss:
    return FocalLoss(task, gamma, alpha)
