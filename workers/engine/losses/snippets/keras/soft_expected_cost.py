"""The expected cost under the predicted distribution: mean_b sum_j p_j(x_b) C[y_b, j].

C is the metric's cost matrix (rows: true class, columns: decided class); without one, 0-1 costs.
Binary: p = sigmoid(logit), decisions 0 and 1; multiclass: softmax probabilities.
"""

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops


class SoftExpectedCostLoss(keras.losses.Loss):
    def __init__(self, task: str, metric_costs: Sequence[Sequence[float]] | None) -> None:
        super().__init__(name="soft_expected_cost")
        self.task = task
        self.costs = None if metric_costs is None else [[float(c) for c in r] for r in metric_costs]

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        n_classes = 2 if self.task == "binary" else y_pred.shape[-1]
        if self.costs is None:
            costs = 1.0 - ops.eye(n_classes, dtype=y_pred.dtype)
        else:
            costs = ops.convert_to_tensor(self.costs, dtype=y_pred.dtype)
        codes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        rows = ops.take(costs, codes, axis=0)  # each example's cost of each decision
        if self.task == "binary":
            p = ops.sigmoid(y_pred)
            return ops.mean((1.0 - p) * rows[:, 0] + p * rows[:, 1])
        return ops.mean(ops.sum(ops.softmax(y_pred, axis=-1) * rows, axis=-1))


def make_loss(
    task: str, metric_costs: Sequence[Sequence[float]] | None = None
) -> keras.losses.Loss:
    return SoftExpectedCostLoss(task, metric_costs)
