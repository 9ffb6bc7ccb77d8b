"""Pinball (quantile) loss at level tau: mean of max(tau * r, (tau - 1) * r), r = target - output.

Targets and outputs are standardised; in the target's units the loss is this times its
standard deviation.
"""

from collections.abc import Callable

import torch


def make_loss(tau: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        residual = targets - outputs
        return torch.maximum(tau * residual, (tau - 1.0) * residual).mean()

    return loss_fn
