"""Cross-entropy: BCE on one logit (binary; per label for multilabel) or softmax cross-entropy
(against each row's distribution for soft targets)."""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            # Class codes (batch,), or soft targets: a distribution per row (batch, classes).
            soft = targets.dim() == logits.dim()
            return F.cross_entropy(logits, targets.to(logits.dtype) if soft else targets.long())
        return F.binary_cross_entropy_with_logits(logits, targets.float())

    return loss_fn
