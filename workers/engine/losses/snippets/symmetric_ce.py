"""Symmetric cross-entropy (Wang et al. 2019): mean alpha * CE + beta * RCE over decisions.

RCE is the reverse cross-entropy of the one-hot label with log 0 taken as -4: 4 * (1 - p_y),
p_y being each decision's probability of its true class (sigmoid for binary and each multilabel
label, softmax for multiclass), computed as exp(-CE).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(
    task: str, alpha: float, beta: float
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            ce = F.cross_entropy(logits, targets.long(), reduction="none")
        else:
            ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        reverse = 4.0 * (1.0 - torch.exp(-ce))
        return (alpha * ce + beta * reverse).mean()

    return loss_fn
