"""1 - Matthews correlation from soft confusion counts over the batch.

Binary (positive class) and multilabel (each label, then the mean): sigmoid probabilities, each
of tp, tn, fp, fn plus 1e-5, MCC = (tp tn - fp fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)).
Multiclass: Gorodkin's R_K from softmax probabilities, (c s - sum p_k t_k) /
sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)) with the product under the root floored at 1e-12;
0 when every target is in one class.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

EPS = 1e-5
FLOOR = 1e-12


def make_loss(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task == "multiclass":
            probs = torch.softmax(logits, dim=-1)
            truth = F.one_hot(targets.long(), logits.shape[-1]).to(probs.dtype)
            size = float(logits.shape[0])
            predicted, actual = probs.sum(0), truth.sum(0)
            covariance = (probs * truth).sum() * size - (predicted * actual).sum()
            spread_predicted = size * size - (predicted**2).sum()
            spread_actual = size * size - (actual**2).sum()
            if spread_actual == 0:  # every target in one class: MCC 0
                return logits.sum() * 0.0 + 1.0
            product = (spread_predicted * spread_actual).clamp_min(FLOOR)
            return 1.0 - covariance / torch.sqrt(product)
        if task == "multilabel":
            probs, truth = torch.sigmoid(logits), targets
        else:
            probs, truth = torch.sigmoid(logits).unsqueeze(-1), targets.unsqueeze(-1)
        tp = (probs * truth).sum(0) + EPS
        tn = ((1 - probs) * (1 - truth)).sum(0) + EPS
        fp = (probs * (1 - truth)).sum(0) + EPS
        fn = ((1 - probs) * truth).sum(0) + EPS
        mcc = (tp * tn - fp * fn) / torch.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return 1.0 - mcc.mean()

    return loss_fn
