"""Logit-adjusted cross-entropy: cross-entropy of logits + tau * log(prior), for training only.

Multiclass: priors n_c / n. Binary: the logit is shifted by tau * log(n_1 / n_0); multilabel:
each label by tau * log(positives / negatives). Counts are clamped at 1. Predict with the raw
logits.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(
    task: str, tau: float, class_counts: list[float], n_train: int
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    counts = torch.tensor(class_counts, dtype=torch.float32)
    if task == "multiclass":
        counts = counts.clamp_min(1.0)
        offsets = tau * (counts / counts.sum()).log()
    elif task == "multilabel":
        positives, negatives = counts.clamp_min(1.0), (n_train - counts).clamp_min(1.0)
        offsets = tau * (positives.log() - negatives.log())
    else:
        counts = counts.clamp_min(1.0)
        offsets = tau * (counts[1].log() - counts[0].log())

    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        adjusted = logits + offsets.to(logits.device)
        if task == "multiclass":
            return F.cross_entropy(adjusted, targets.long())
        return F.binary_cross_entropy_with_logits(adjusted, targets)

    return loss_fn
