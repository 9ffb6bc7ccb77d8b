"""Precision at recall >= min_recall (Eban et al. 2017), hinge-bound Lagrangian on logits u:

(L- + lam (L+ - (1 - r) n+)) / batch,  r = min_recall,

L+ = sum over positives of max(0, 1 - u), L- = sum over negatives of max(0, 1 + u), n+ the
batch's positives. lam starts at 0; call after_step(lr) after each optimiser step: lam takes a
projected dual-ascent step lam <- max(0, lam + dual_scale * lr * dL/dlam).
"""

import torch
import torch.nn.functional as F


class PrecisionAtRecallLoss:
    def __init__(self, min_recall: float, dual_scale: float) -> None:
        self.min_recall = min_recall
        self.dual_scale = dual_scale
        self.lam = torch.zeros((), requires_grad=True)

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        positive = (targets > 0.5).to(logits.dtype)
        hinge_positive = (F.relu(1 - logits) * positive).sum()
        hinge_negative = (F.relu(1 + logits) * (1 - positive)).sum()
        lam = self.lam.to(logits.device)
        slack = hinge_positive - (1 - self.min_recall) * positive.sum()
        return (hinge_negative + lam * slack) / logits.shape[0]

    def after_step(self, lr: float) -> None:
        if self.lam.grad is not None:
            with torch.no_grad():
                self.lam.add_(lr * self.dual_scale * self.lam.grad).clamp_(min=0.0)
            self.lam.grad = None


def make_loss(dual_scale: float, metric_min_recall: float = 0.9) -> PrecisionAtRecallLoss:
    return PrecisionAtRecallLoss(metric_min_recall, dual_scale)
