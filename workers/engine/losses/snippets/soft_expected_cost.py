"""The expected cost under the predicted distribution: mean_b sum_j p_j(x_b) C[y_b, j].

C is the metric's cost matrix (rows: true class, columns: decided class); without one, 0-1 costs.
Binary: p = sigmoid(logit), decisions 0 and 1; multiclass: softmax probabilities.
"""

from collections.abc import Callable, Sequence

import torch


def make_loss(
    task: str, metric_costs: Sequence[Sequence[float]] | None = None
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        n_classes = 2 if task == "binary" else logits.shape[-1]
        if metric_costs is None:
            costs = 1.0 - torch.eye(n_classes)
        else:
            costs = torch.tensor(metric_costs, dtype=torch.float32)
        rows = costs.to(logits)[targets.long()]  # each example's cost of each decision
        if task == "binary":
            p = torch.sigmoid(logits)
            return ((1.0 - p) * rows[:, 0] + p * rows[:, 1]).mean()
        return (torch.softmax(logits, dim=-1) * rows).sum(-1).mean()

    return loss_fn
