"""Square loss of the logits (no softmax) against one-hot targets (Hui & Belkin 2021).

Multiclass: mean over classes and examples of (z_c - onehot_c) ** 2. Binary and multilabel: each
logit regresses the signed target 2y - 1, so the decision stays at z = 0.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            onehot = F.one_hot(targets.long(), logits.shape[-1]).to(logits.dtype)
            return F.mse_loss(logits, onehot)
        return F.mse_loss(logits, 2.0 * targets - 1.0)

    return loss_fn
