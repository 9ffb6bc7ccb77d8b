"""Asymmetric loss (ASL), averaged over every decision (binary; per label for multilabel).

With p = sigmoid(z) and p_m = max(p - clip, 0): a positive costs -(1 - p) ** gamma_pos * log(p),
a negative -p_m ** gamma_neg * log(1 - p_m). Written with log-sigmoids so that gradients stay
finite at extreme logits.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(
    gamma_pos: float, gamma_neg: float, clip: float
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        positive = -torch.exp(gamma_pos * F.logsigmoid(-logits)) * F.logsigmoid(logits)
        if clip > 0:
            tiny = torch.finfo(logits.dtype).tiny
            log_p_m = (torch.sigmoid(logits) - clip).clamp_min(tiny).log()
            # log(1 - p_m) = log(min(1 - p + clip, 1))
            log_not_p_m = torch.log(torch.sigmoid(-logits) + clip).clamp_max(0.0)
        else:
            log_p_m, log_not_p_m = F.logsigmoid(logits), F.logsigmoid(-logits)
        negative = -torch.exp(gamma_neg * log_p_m) * log_not_p_m
        return torch.where(targets > 0.5, positive, negative).mean()

    return loss_fn
