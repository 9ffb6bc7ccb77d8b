"""Cross-entropy with class-balanced weights (1 - beta) / (1 - beta ** n_c).

Here beta = 1 - one_minus_beta. Weights are normalised to mean 1 over the training examples;
the batch loss is mean(w_i * ce_i), as in Cui et al.'s code. For multilabel, each label
weights its own negatives and positives (counts: n_train - positives, positives).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def _weights(counts: torch.Tensor, one_minus_beta: float) -> torch.Tensor:
    counts = counts.double().clamp_min(1.0)
    q = torch.tensor(one_minus_beta, dtype=torch.float64)
    effective = -torch.expm1(counts * torch.log1p(-q)) / q  # (1 - beta ** n) / (1 - beta)
    raw = 1.0 / effective
    weights = raw / ((raw * counts).sum(-1, keepdim=True) / counts.sum(-1, keepdim=True))
    return weights.float()


def make_loss(
    task: str, one_minus_beta: float, class_counts: list[float], n_train: int
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    counts = torch.tensor(class_counts, dtype=torch.float32)
    if task == "multilabel":
        counts = torch.stack([n_train - counts, counts], dim=-1)  # (labels, 2)
    weights = _weights(counts, one_minus_beta)

    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        w = weights.to(logits.device)
        if task == "multiclass":
            per_example = F.cross_entropy(logits, targets.long(), reduction="none")
            example_weights = w[targets.long()]
        elif task == "multilabel":
            per_example = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
            example_weights = torch.where(targets > 0.5, w[:, 1], w[:, 0])
        else:
            per_example = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
            example_weights = w[targets.long()]
        return (example_weights * per_example).mean()

    return loss_fn
