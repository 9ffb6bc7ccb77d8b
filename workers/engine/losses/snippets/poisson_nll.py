"""Poisson negative log-likelihood with a log link.

The model's output is the log of its prediction in units of target_scale: predict
exp(output) * target_scale. Targets arrive standardised, so they are first put back in their own
units (target * target_std + target_mean), divided by target_scale and clipped at 0.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(
    target_mean: float, target_std: float, target_scale: float
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        counts = ((targets * target_std + target_mean) / target_scale).clamp_min(0.0)
        return F.poisson_nll_loss(outputs, counts, log_input=True, full=False)

    return loss_fn
