"""Cross-entropy with class weights n_c ** -power, normalised to mean 1 over training examples.

The batch loss is mean(w_i * ce_i) (King & Zeng's weighted likelihood; not torch's
sum(w_i * ce_i) / sum(w_i), which damps a rare class in the batches that hold it). For
multilabel, each label weights its own negatives and positives (counts: n_train - positives,
positives).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def _weights(counts: torch.Tensor, power: float) -> torch.Tensor:
    counts = counts.clamp_min(1.0)
    raw = counts.pow(-power)
    return raw / ((raw * counts).sum(-1, keepdim=True) / counts.sum(-1, keepdim=True))


def make_loss(
    task: str, power: float, class_counts: list[float], n_train: int
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    counts = torch.tensor(class_counts, dtype=torch.float32)
    if task == "multilabel":
        counts = torch.stack([n_train - counts, counts], dim=-1)  # (labels, 2)
    weights = _weights(counts, power)

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
