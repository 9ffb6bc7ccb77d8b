"""Poly-1 loss: cross-entropy + epsilon * (1 - p_t), averaged over every decision.

Multiclass uses softmax p_t; binary and multilabel use sigmoid p_t per decision, with
1 - p_t = sigmoid(-z_t) where z_t is the logit of the true class (z for y = 1, -z for y = 0).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(task: str, epsilon: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            log_p = F.log_softmax(logits, dim=-1).gather(-1, targets.long().unsqueeze(-1))
            log_p = log_p.squeeze(-1)
            return (-log_p + epsilon * (1.0 - log_p.exp())).mean()
        z_t = torch.where(targets > 0.5, logits, -logits)
        return (-F.logsigmoid(z_t) + epsilon * torch.sigmoid(-z_t)).mean()

    return loss_fn
