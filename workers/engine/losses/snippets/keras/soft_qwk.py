"""1 - Cohen's weighted kappa from the soft confusion matrix of softmax probabilities.

O = onehot(y)^T p, E = outer(class counts, predicted mass) / batch, weights |i - j| (linear)
or (i - j)^2 (quadratic, the metric's default); loss = (sum w O + 1e-7) / (sum w E + 1e-7).
"""

from typing import Any

import keras
from keras import ops


class SoftQWKLoss(keras.losses.Loss):
    EPS = 1e-7

    def __init__(self, power: int) -> None:
        super().__init__(name="soft_qwk")
        self.power = power

    def call(self, y_true: Any, y_pred: Any) -> Any:
        probs = ops.softmax(y_pred, axis=-1)
        n_classes = y_pred.shape[-1]
        codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        truth = ops.one_hot(codes, n_classes, dtype=probs.dtype)
        classes = ops.arange(n_classes, dtype=probs.dtype)
        weights = ops.abs(classes[None, :] - classes[:, None]) ** self.power
        observed = ops.matmul(ops.transpose(truth), probs)
        size = ops.cast(ops.shape(y_pred)[0], probs.dtype)
        expected = ops.outer(ops.sum(truth, axis=0), ops.sum(probs, axis=0)) / size
        return (ops.sum(weights * observed) + self.EPS) / (ops.sum(weights * expected) + self.EPS)


def make_loss(metric_weights: str = "quadratic") -> keras.losses.Loss:
    return SoftQWKLoss(1 if metric_weights == "linear" else 2)
