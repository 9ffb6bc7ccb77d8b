"""sigmoidF1 (Benedict et al. 2022): 1 - soft F-beta of S(u) = sigmoid(slope * (u + offset)).

u is each column's logit: binary the one logit, multilabel each label's, multiclass each
class's own logit one-vs-rest against one-hot targets. Counts over the batch, F-beta per column
(beta from the F-beta metric, 1 for F1), then the mean over columns.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

EPSILON = 1e-7


def make_loss(
    task: str, slope: float, offset: float, metric_beta: float = 1.0
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    b2 = metric_beta**2

    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            truth = F.one_hot(targets.long(), logits.shape[-1]).float()
        elif task == "multilabel":
            truth = targets
        else:
            logits, truth = logits.unsqueeze(-1), targets.unsqueeze(-1)
        probs = torch.sigmoid(slope * (logits + offset))
        tp = (probs * truth).sum(0)
        fp = (probs * (1 - truth)).sum(0)
        fn = ((1 - probs) * truth).sum(0)
        f_beta = (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp + EPSILON)
        return 1.0 - f_beta.mean()

    return loss_fn
