"""Tversky loss (Salehi et al. 2017): 1 - mean over classes of tp / (tp + alpha fp + beta fn +
1e-8), soft counts over the batch.

Probabilities: sigmoid (binary: the positive class only; multilabel: each label) or softmax
(multiclass: each class against one-hot targets). The mean runs over the classes with a positive
in the batch; with none the loss is 1.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

EPS = 1e-8


def make_loss(
    task: str, alpha: float, beta: float
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            probs = torch.softmax(logits, dim=-1)
            truth = F.one_hot(targets.long(), logits.shape[-1]).to(probs.dtype)
        elif task == "multilabel":
            probs, truth = torch.sigmoid(logits), targets
        else:
            probs, truth = torch.sigmoid(logits).unsqueeze(-1), targets.unsqueeze(-1)
        tp = (probs * truth).sum(0)
        fp = (probs * (1 - truth)).sum(0)
        fn = ((1 - probs) * truth).sum(0)
        index = tp / (tp + alpha * fp + beta * fn + EPS)
        present = truth.sum(0) > 0
        if not present.any():
            return logits.sum() * 0.0 + 1.0
        return (1.0 - index[present]).mean()

    return loss_fn
