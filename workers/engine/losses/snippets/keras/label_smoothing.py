"""Cross-entropy with label smoothing epsilon.

Multiclass: torch's F.cross_entropy(label_smoothing=epsilon), targets (1 - epsilon) one-hot +
epsilon / C. Binary and multilabel: BCE against y * (1 - epsilon) + epsilon / 2, per decision.
"""

from typing import Any

import keras
from keras import ops


class LabelSmoothingLoss(keras.losses.Loss):
    def __init__(self, task: str, epsilon: float) -> None:
        super().__init__(name="label_smoothing")
        self.task, self.epsilon = task, epsilon

    def call(self, y_true: Any, y_pred: Any) -> Any:
        epsilon = self.epsilon
        if self.task == "multiclass":
            n_classes = y_pred.shape[-1]
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            log_p = ops.log_softmax(y_pred, axis=-1)
            # as torch: (1 - epsilon) * NLL + epsilon * mean over classes of -log p
            nll = -ops.mean(ops.take_along_axis(log_p, codes[:, None], axis=-1))
            uniform = -ops.mean(ops.sum(log_p, axis=-1)) / n_classes
            return (1.0 - epsilon) * nll + epsilon * uniform
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        soft = y_true * (1.0 - epsilon) + 0.5 * epsilon
        return ops.mean(ops.binary_crossentropy(soft, y_pred, from_logits=True))


def make_loss(task: str, epsilon: float) -> keras.losses.Loss:
    return LabelSmoothingLoss(task, epsilon)
