"""Lovasz-softmax (Berman et al. 2018): per class, the Lovasz extension of the Jaccard loss at
the errors |y_c - p_c| of the softmax probabilities over the whole batch, averaged over the
classes present in the batch.
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


def make_loss() -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits, dim=-1)
        truth = F.one_hot(targets.long(), logits.shape[-1]).to(probs.dtype)
        per_class = lovasz_extension((truth - probs).abs(), truth)
        return per_class[truth.sum(0) > 0].mean()

    return loss_fn
