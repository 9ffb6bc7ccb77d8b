"""Cross-entropy with label smoothing epsilon.

Multiclass: F.cross_entropy(label_smoothing=epsilon), targets (1 - epsilon) one-hot + epsilon / C.
Binary and multilabel: BCE against y * (1 - epsilon) + epsilon / 2, per decision.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(task: str, epsilon: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            return F.cross_entropy(logits, targets.long(), label_smoothing=epsilon)
        soft = targets * (1.0 - epsilon) + 0.5 * epsilon
        return F.binary_cross_entropy_with_logits(logits, soft)

    return loss_fn
