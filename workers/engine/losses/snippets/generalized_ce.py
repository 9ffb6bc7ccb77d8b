"""Generalised cross-entropy (Zhang & Sabuncu 2018): mean (1 - p_y^q) / q over decisions.

p_y is each decision's probability of its true class: sigmoid for binary and each multilabel
label, softmax for multiclass; p_y^q is computed as exp(-q * CE) from the cross-entropy CE.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(task: str, q: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            ce = F.cross_entropy(logits, targets.long(), reduction="none")
        else:
            ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        return ((1.0 - torch.exp(-q * ce)) / q).mean()

    return loss_fn
