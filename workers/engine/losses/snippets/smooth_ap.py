"""1 - Smooth-AP (Brown et al. 2020) on sigmoid probabilities p.

For each positive i: R_P(i) = 1 + sum over other positives j of sigmoid((p_j - p_i) / tau),
R(i) = R_P(i) + sum over negatives j of sigmoid((p_j - p_i) / tau); AP = mean of R_P / R over
the positives. A batch without positives gives 0.
"""

from collections.abc import Callable

import torch


def make_loss(temperature: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        probs = torch.sigmoid(logits)
        positive = targets > 0.5
        if not positive.any():
            return logits.sum() * 0.0
        differences = probs.unsqueeze(0) - probs.unsqueeze(1)  # [i, j] = p_j - p_i
        others = 1.0 - torch.eye(probs.shape[0], dtype=probs.dtype, device=probs.device)
        above = torch.sigmoid(differences / temperature) * others
        rank_positive = 1.0 + above[:, positive].sum(1)
        rank_all = 1.0 + above.sum(1)
        return 1.0 - (rank_positive / rank_all)[positive].mean()

    return loss_fn
