"""Mean log(cosh(output - target)), in the stable form |r| + softplus(-2|r|) - log 2."""

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss() -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        residual = (outputs - targets).abs()
        return (residual + F.softplus(-2.0 * residual) - math.log(2.0)).mean()

    return loss_fn
