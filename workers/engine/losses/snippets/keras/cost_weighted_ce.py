"""Cross-entropy weighting each example by its true class's mean cost of a mistake, to a power.

w_i = mean_{j != i} (C[i, j] - C[i, i]) ** power with C the metric's cost matrix (rows: true
class, columns: decided class; 0-1 costs without one), scaled to average 1 over the training
examples; the batch loss is mean(w_y * ce). For two classes the weights are Elkan's c01 - c00
(negatives) and c10 - c11 (positives).
"""

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops


class CostWeightedCELoss(keras.losses.Loss):
    def __init__(self, task: str, weights: list[float]) -> None:
        super().__init__(name="cost_weighted_ce")
        self.task = task
        self.weights = weights  # (C,): each true class's weight

    def call(self, y_true: Any, y_pred: Any) -> Any:
        w = ops.convert_to_tensor(self.weights, dtype=y_pred.dtype)
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
            per_example = ops.binary_crossentropy(y_true, y_pred, from_logits=True)
            example_weights = ops.where(y_true > 0.5, w[1], w[0])
        else:
            codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            log_p = ops.log_softmax(y_pred, axis=-1)
            per_example = -ops.take_along_axis(log_p, codes[:, None], axis=-1)[:, 0]
            example_weights = ops.take(w, codes, axis=0)
        return ops.mean(example_weights * per_example)


def make_loss(
    task: str,
    power: float,
    class_counts: list[float],
    metric_costs: Sequence[Sequence[float]] | None = None,
) -> keras.losses.Loss:
    counts = [max(float(c), 1.0) for c in class_counts]
    n_classes = len(class_counts)
    if metric_costs is None:
        costs = [[0.0 if i == j else 1.0 for j in range(n_classes)] for i in range(n_classes)]
    else:
        costs = [[float(c) for c in row] for row in metric_costs]
    regret = [sum(c - row[i] for c in row) / (n_classes - 1) for i, row in enumerate(costs)]
    raw = [r**power for r in regret]
    mean = sum(r * c for r, c in zip(raw, counts, strict=True)) / sum(counts)
    return CostWeightedCELoss(task, [r / mean for r in raw])
