"""Median absolute residual of the batch (least median of squares, Rousseeuw 1984), on
standardised targets: numpy's median, the mean of the two middle values for an even batch."""

from collections.abc import Callable

import torch


def make_loss() -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        ordered, _ = torch.sort((targets - outputs).abs())
        size = len(ordered)
        return 0.5 * (ordered[(size - 1) // 2] + ordered[size // 2])

    return loss_fn
