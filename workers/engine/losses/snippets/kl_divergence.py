"""KL divergence from each row's target distribution to the softmax (Kullback and Leibler 1951).

Mean over rows of sum_c t_c (log t_c - log softmax(logits)_c): soft cross-entropy minus the
entropy of the targets (0 log 0 = 0), so the same gradient as cross-entropy and 0 at a perfect
fit. Targets are distributions (batch, classes); integer class targets count as one-hot rows.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if targets.dim() == logits.dim():
            truth = targets.to(logits.dtype)
        else:
            truth = F.one_hot(targets.long(), logits.shape[-1]).to(logits.dtype)
        entropy: torch.Tensor = -torch.special.xlogy(truth, truth).sum(dim=-1)
        cross_entropy = -(truth * torch.log_softmax(logits, dim=-1)).sum(dim=-1)
        return (cross_entropy - entropy).mean()

    return loss_fn
