"""Brier score of the predicted probabilities (Brier 1950), a bounded proper scoring rule.

Binary and multilabel: mean (sigmoid(logit) - y) ** 2 over every decision
(sklearn.metrics.brier_score_loss). Multiclass: mean over examples of
sum_c (softmax(logits)_c - onehot_c) ** 2 (scikit-learn's multiclass Brier score, unscaled);
soft targets (batch, classes) take the place of the one-hot rows.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            if targets.dim() == logits.dim():  # soft targets: a distribution per row
                truth = targets.to(logits.dtype)
            else:
                truth = F.one_hot(targets.long(), logits.shape[-1]).to(logits.dtype)
            return (torch.softmax(logits, dim=-1) - truth).square().sum(dim=-1).mean()
        return (torch.sigmoid(logits) - targets).square().mean()

    return loss_fn
