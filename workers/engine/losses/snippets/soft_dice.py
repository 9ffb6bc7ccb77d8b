"""V-Net Dice loss (Milletari et al. 2016): 1 - mean over classes of
(2 sum p y + 1e-5) / (sum p^2 + sum y^2 + 1e-5), sums over the batch.

Probabilities: sigmoid (binary: the positive class only; multilabel: each label) or softmax
(multiclass: each class against one-hot targets). Every class counts in the mean.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

SMOOTH = 1e-5


def make_loss(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            probs = torch.softmax(logits, dim=-1)
            truth = F.one_hot(targets.long(), logits.shape[-1]).to(probs.dtype)
        elif task == "multilabel":
            probs, truth = torch.sigmoid(logits), targets
        else:
            probs, truth = torch.sigmoid(logits).unsqueeze(-1), targets.unsqueeze(-1)
        intersection = (probs * truth).sum(0)
        denominator = (probs**2).sum(0) + (truth**2).sum(0)
        dice = (2 * intersection + SMOOTH) / (denominator + SMOOTH)
        return 1.0 - dice.mean()

    return loss_fn
