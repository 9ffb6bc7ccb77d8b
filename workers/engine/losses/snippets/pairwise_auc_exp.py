"""Pairwise exponential AUC loss: mean exp(-(s_pos - s_neg)) over the batch's pairs of logits,
continued by its tangent below a difference of -20 so it stays finite. Multilabel: each label's
pairs, then the mean over the labels that have pairs. A batch without pairs gives 0.
"""

import math
from collections.abc import Callable

import torch

LINEAR_FROM = 20.0


def exponential(t: torch.Tensor) -> torch.Tensor:
    tail = math.exp(LINEAR_FROM) * (1.0 - LINEAR_FROM - t)
    return torch.where(t >= -LINEAR_FROM, torch.exp(-t.clamp_min(-LINEAR_FROM)), tail)


def make_loss(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "binary":
            logits, targets = logits.unsqueeze(-1), targets.unsqueeze(-1)
        per_label = []
        for k in range(logits.shape[-1]):
            positive = logits[:, k][targets[:, k] > 0.5]
            negative = logits[:, k][targets[:, k] <= 0.5]
            if positive.numel() > 0 and negative.numel() > 0:
                margins = positive.unsqueeze(1) - negative.unsqueeze(0)
                per_label.append(exponential(margins).mean())
        if not per_label:
            return logits.sum() * 0.0  # no pairs in this batch
        return torch.stack(per_label).mean()

    return loss_fn
