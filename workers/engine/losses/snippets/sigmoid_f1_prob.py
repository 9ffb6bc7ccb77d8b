"""sigmoidF1 as the authors' code computes it (Benedict et al. 2022): 1 - soft F-beta of
1 / (1 + exp(S * (p + E))) on the probabilities p (sigmoid; softmax for multiclass, each class
against the rest). With S < 0 the step sits at p = -E (S = -100, E = -0.5: a near step at 1/2).
Soft counts, F-beta (beta from the F-beta metric, 1 for F1) and the averaging over columns
(average: macro, micro, samples or weighted, as the metric averages) as in soft_f1.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

EPSILON = 1e-7


def make_loss(
    task: str, S: float, E: float, metric_beta: float = 1.0, average: str = "macro"
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
        stepped = torch.sigmoid(-S * (probs + E))  # = 1 / (1 + exp(S * (probs + E)))
        return 1.0 - _averaged_f_beta(stepped, truth, b2, average)

    return loss_fn


def _averaged_f_beta(
    probs: torch.Tensor, truth: torch.Tensor, b2: float, average: str
) -> torch.Tensor:
    """Soft F-beta of (batch, columns) probabilities, averaged over columns as the metric does."""

    def f_beta(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
        return (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp + EPSILON)

    # Counts per example over its labels (samples), else per column over the batch.
    dim = 1 if average == "samples" else 0
    tp = (probs * truth).sum(dim)
    fp = (probs * (1 - truth)).sum(dim)
    fn = ((1 - probs) * truth).sum(dim)
    if average == "micro":  # counts pooled over the columns too
        return f_beta(tp.sum(), fp.sum(), fn.sum())
    per_column = f_beta(tp, fp, fn)
    if average == "weighted" and truth.sum() > 0:  # by each column's positives
        support = truth.sum(0)
        return (per_column * support).sum() / support.sum()
    return per_column.mean()
