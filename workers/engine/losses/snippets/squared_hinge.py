"""Squared hinge loss on the logits: max(0, margin - s * z) ** 2 with s = 2y - 1, averaged over
every decision.

Binary uses the single logit; multilabel applies it to every (example, label); multiclass is
torch's multi_margin_loss with p=2: sum over j != y of max(0, margin - z_y + z_j) ** 2 / C, mean
over the batch.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(task: str, margin: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            return F.multi_margin_loss(logits, targets.long(), p=2, margin=margin)
        return F.relu(margin - (2.0 * targets - 1.0) * logits).pow(2).mean()

    return loss_fn
