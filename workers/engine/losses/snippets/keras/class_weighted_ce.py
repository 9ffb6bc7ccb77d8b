"""Cross-entropy with class weights n_c ** -power, normalised to mean 1 over training examples.

The batch loss is mean(w_i * ce_i) (King & Zeng's weighted likelihood; not a weighted mean
sum(w_i * ce_i) / sum(w_i), which damps a rare class in the batches that hold it). For
multilabel, each label weights its own negatives and positives (counts: n_train - positives,
positives).
"""

from typing import Any

import keras
from keras import ops


def _class_weights(counts: list[float], power: float) -> list[float]:
    counts = [max(c, 1.0) for c in counts]
    raw = [c**-power for c in counts]
    mean = sum(r * c for r, c in zip(raw, counts, strict=True)) / sum(counts)
    return [r / mean for r in raw]


class ClassWeightedCELoss(keras.losses.Loss):
    def __init__(self, task: str, weights: list[Any]) -> None:
        super().__init__(name="class_weighted_ce")
        self.task = task
        self.weights = weights  # (C,), or (labels, 2) for multilabel: (negatives, positives)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        w = ops.convert_to_tensor(self.weights, dtype=y_pred.dtype)
        if self.task == "multiclass":
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            log_p = ops.log_softmax(y_pred, axis=-1)
            per_example = -ops.take_along_axis(log_p, codes[:, None], axis=-1)[:, 0]
            example_weights = ops.take(w, codes, axis=0)
        elif self.task == "multilabel":
            per_example = ops.binary_crossentropy(y_true, y_pred, from_logits=True)
            example_weights = ops.where(y_true > 0.5, w[:, 1], w[:, 0])
        else:
            y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
            per_example = ops.binary_crossentropy(y_true, y_pred, from_logits=True)
            example_weights = ops.where(y_true > 0.5, w[1], w[0])
        return ops.mean(example_weights * per_example)


def make_loss(
    task: str, power: float, class_counts: list[float], n_train: int
) -> keras.losses.Loss:
    if task == "multilabel":  # per label: (negatives, positives)
        weights: list[Any] = [_class_weights([n_train - c, c], power) for c in class_counts]
    else:
        weights = _class_weights(class_counts, power)
    return ClassWeightedCELoss(task, weights)
