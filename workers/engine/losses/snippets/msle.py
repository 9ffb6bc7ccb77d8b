"""Squared logarithmic error, mean (log(1 + prediction) - log(1 + y)) ** 2, with a log link.

The model's output is the log of its prediction in units of target_scale: predict
exp(output) * target_scale, which is positive, so log(1 + prediction) is
softplus(output + log(target_scale)) exactly. Targets arrive standardised, so they are first put
back in their own units (target * target_std + target_mean) and clipped at 0.
"""

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(
    target_mean: float, target_std: float, target_scale: float
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    log_scale = math.log(target_scale)

    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        amounts = (targets * target_std + target_mean).clamp_min(0.0)
        return (F.softplus(outputs + log_scale) - torch.log1p(amounts)).square().mean()

    return loss_fn
