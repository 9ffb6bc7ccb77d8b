"""1 - soft F-beta: F-beta with confusion counts from probabilities, over the batch.

Binary: the positive class (sigmoid). Multiclass: each class from softmax probabilities, then
the mean over classes (soft macro-F). Multilabel: each label (sigmoid), then the mean. beta is
the F-beta metric's (1 for F1).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

EPSILON = 1e-7


def make_loss(
    task: str, metric_beta: float = 1.0
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    b2 = metric_beta**2

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
        f_beta = (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp + EPSILON)
        return 1.0 - f_beta.mean()

    return loss_fn
