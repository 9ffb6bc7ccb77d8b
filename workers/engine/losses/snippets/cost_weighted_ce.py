"""Cross-entropy weighting each example by its true class's mean cost of a mistake, to a power.

w_i = mean_{j != i} (C[i, j] - C[i, i]) ** power with C the metric's cost matrix (rows: true
class, columns: decided class; 0-1 costs without one), scaled to average 1 over the training
examples; the batch loss is mean(w_y * ce). For two classes the weights are Elkan's c01 - c00
(negatives) and c10 - c11 (positives).
"""

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F


def make_loss(
    task: str,
    power: float,
    class_counts: list[float],
    metric_costs: Sequence[Sequence[float]] | None = None,
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    counts = torch.tensor(class_counts, dtype=torch.float32).clamp_min(1.0)
    n_classes = len(class_counts)
    if metric_costs is None:
        costs = 1.0 - torch.eye(n_classes)
    else:
        costs = torch.tensor(metric_costs, dtype=torch.float32)
    regret = (costs - costs.diagonal().unsqueeze(1)).sum(1) / (n_classes - 1)
    raw = regret.pow(power)
    weights = raw / ((raw * counts).sum() / counts.sum())

    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        w = weights.to(logits.device)[targets.long()]
        if task == "binary":
            per_example = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        else:
            per_example = F.cross_entropy(logits, targets.long(), reduction="none")
        return (w * per_example).mean()

    return loss_fn
