"""Mean absolute error."""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss() -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(outputs, targets)

    return loss_fn
