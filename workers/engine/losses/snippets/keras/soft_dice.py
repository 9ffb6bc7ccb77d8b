"""V-Net Dice loss (Milletari et al. 2016): 1 - mean over classes of
(2 sum p y + 1e-5) / (sum p^2 + sum y^2 + 1e-5), sums over the batch.

Probabilities: sigmoid (binary: the positive class only; multilabel: each label) or softmax
(multiclass: each class against one-hot targets). Every class counts in the mean.
"""

from typing import Any

import keras
from keras import ops


class SoftDiceLoss(keras.losses.Loss):
    SMOOTH = 1e-5

    def __init__(self, task: str) -> None:
        super().__init__(name="soft_dice")
        self.task = task

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
        intersection = ops.sum(probs * truth, axis=0)
        denominator = ops.sum(probs**2, axis=0) + ops.sum(truth**2, axis=0)
        dice = (2 * intersection + self.SMOOTH) / (denominator + self.SMOOTH)
        return 1.0 - ops.mean(dice)


def make_loss(task: str) -> keras.losses.Loss:
    return SoftDiceLoss(task)
