"""1 - Cohen's weighted kappa from the soft confusion matrix of softmax probabilities.

O = onehot(y)^T p, E = outer(class counts, predicted mass) / batch, weights |i - j| (linear)
or (i - j)^2 (quadratic, the metric's default); loss = (sum w O + 1e-7) / (sum w E + 1e-7).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

EPS = 1e-7


def make_loss(
    metric_weights: str = "quadratic",
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    power = 1 if metric_weights == "linear" else 2

    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits, dim=-1)
        n_classes = logits.shape[-1]
        truth = F.one_hot(targets.long(), n_classes).to(probs.dtype)
        codes = torch.arange(n_classes, dtype=probs.dtype, device=probs.device)
        weights = (codes.unsqueeze(0) - codes.unsqueeze(1)).abs() ** power
        observed = truth.T @ probs
        expected = torch.outer(truth.sum(0), probs.sum(0)) / logits.shape[0]
        return ((weights * observed).sum() + EPS) / ((weights * expected).sum() + EPS)

    return loss_fn
