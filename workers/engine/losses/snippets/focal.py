"""Focal loss, -alpha_t * (1 - p_t) ** gamma * log(p_t), averaged over every decision.

Binary and multilabel use sigmoid probabilities with alpha_t = alpha for positives and
1 - alpha for negatives (torchvision.ops.sigmoid_focal_loss); multiclass uses softmax
probabilities and no alpha.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def make_loss(
    task: str, gamma: float, alpha: float = 0.25
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            log_p = F.log_softmax(logits, dim=-1)
            log_p_true = log_p.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1)
            others = logits.scatter(-1, targets.long().unsqueeze(-1), float("-inf"))
            # log(1 - p_t) from the other classes' logits stays finite when p_t -> 1
            log_p_other = torch.logsumexp(others, dim=-1) - torch.logsumexp(logits, dim=-1)
            return (-torch.exp(gamma * log_p_other) * log_p_true).mean()
        signed = torch.where(targets > 0.5, logits, -logits)
        alpha_t = torch.where(targets > 0.5, alpha, 1.0 - alpha)
        focal = -alpha_t * torch.exp(gamma * F.logsigmoid(-signed)) * F.logsigmoid(signed)
        return focal.mean()

    return loss_fn
