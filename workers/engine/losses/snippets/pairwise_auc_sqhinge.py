"""Pairwise squared-hinge AUC loss: mean max(0, margin - (s_pos - s_neg))^2 over the batch's
pairs of logits. Multilabel: each label's pairs, then the mean over the labels that have pairs.
A batch without pairs gives 0.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(task: str, margin: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "binary":
            logits, targets = logits.unsqueeze(-1), targets.unsqueeze(-1)
        per_label = []
        for k in range(logits.shape[-1]):
            positive = logits[:, k][targets[:, k] > 0.5]
            negative = logits[:, k][targets[:, k] <= 0.5]
            if positive.numel() > 0 and negative.numel() > 0:
                margins = positive.unsqueeze(1) - negative.unsqueeze(0)
                per_label.append(F.relu(margin - margins).pow(2).mean())
        if not per_label:
            return logits.sum() * 0.0  # no pairs in this batch
        return torch.stack(per_label).mean()

    return loss_fn
