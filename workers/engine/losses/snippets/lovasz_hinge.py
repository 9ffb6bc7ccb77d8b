"""Lovasz hinge (Berman et al. 2018): the Lovasz extension of the Jaccard loss at the hinge
errors max(0, 1 - logit * (2y - 1)), over the whole batch. Multilabel: each label, then the mean
over all labels.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def lovasz_extension(errors: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per column of (batch, columns): errors sorted in decreasing order, dotted with the
    increments of the Jaccard loss along that order (Algorithm 1 of the paper)."""
    sorted_errors, order = torch.sort(errors, dim=0, descending=True)
    sorted_truth = truth.gather(0, order)
    positives = sorted_truth.sum(0, keepdim=True)
    intersection = positives - sorted_truth.cumsum(0)
    union = positives + (1 - sorted_truth).cumsum(0)
    jaccard = 1 - intersection / union
    weights = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]], dim=0)
    return (sorted_errors * weights).sum(0)


def make_loss(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "binary":
            logits, targets = logits.unsqueeze(-1), targets.unsqueeze(-1)
        truth = targets.float()
        errors = F.relu(1 - logits * (2 * truth - 1))
        return lovasz_extension(errors, truth).mean()

    return loss_fn
