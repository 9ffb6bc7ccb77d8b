"""Mean pseudo-Huber loss delta^2 * (sqrt(1 + ((output - target) / delta)^2) - 1).

Outputs and targets are standardised, so delta is in target standard deviations.
"""

from collections.abc import Callable

import torch


def make_loss(delta: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        squared = ((outputs - targets) / delta) ** 2
        # sqrt(1 + s) - 1 as s / (sqrt(1 + s) + 1): exact for small residuals too.
        return (delta**2 * squared / (torch.sqrt(1.0 + squared) + 1.0)).mean()

    return loss_fn
