"""Huber loss: quadratic within delta of the target, linear beyond."""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(delta: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.huber_loss(outputs, targets, delta=delta)

    return loss_fn
