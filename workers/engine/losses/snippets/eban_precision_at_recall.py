"""Precision at recall >= min_recall (Eban et al. 2017), hinge-bound Lagrangian on logits u:

(L- + lam (L+ - (1 - r) n+)) / batch,  r = min_recall,

L+ = sum over positives of max(0, 1 - u), L- = sum over negatives of max(0, 1 + u), n+ the
batch's positives. The model descends this with lam fixed. lam starts at 0; call after_step(lr)
after each optimiser step: lam takes a projected dual-ascent step on the batch's true recall
violation at the decision u >= 0 (Cotter et al. 2019's proxy-Lagrangian), lam <- max(0, lam +
dual_scale * lr * (fn - (1 - r) n+) / batch); the hinge bound itself never looks satisfied
and would make lam grow without limit.
"""

import torch
import torch.nn.functional as F


class PrecisionAtRecallLoss:
    def __init__(self, min_recall: float, dual_scale: float) -> None:
        self.min_recall = min_recall
        self.dual_scale = dual_scale
        self.lam = torch.zeros((), requires_grad=True)
        self.awaiting_step = False  # a training call came, its after_step not yet

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and logits.requires_grad:
            if self.awaiting_step:
                raise RuntimeError(
                    "PrecisionAtRecallLoss: call loss_fn.after_step(lr) after every optimiser "
                    "step; two training calls came without one, so lam did not move"
                )
            self.awaiting_step = True
        positive = (targets > 0.5).to(logits.dtype)
        hinge_positive = (F.relu(1 - logits) * positive).sum()
        hinge_negative = (F.relu(1 + logits) * (1 - positive)).sum()
        lam = self.lam.to(logits.device)
        fixed = lam.detach()
        slack = hinge_positive - (1 - self.min_recall) * positive.sum()
        with torch.no_grad():
            missed = ((logits < 0).to(logits.dtype) * positive).sum()
            violation = missed - (1 - self.min_recall) * positive.sum()
        # Zero in value; carries the true violation to lam.grad for after_step.
        return (hinge_negative + fixed * slack + (lam - fixed) * violation) / logits.shape[0]

    def after_step(self, lr: float) -> None:
        self.awaiting_step = False
        if self.lam.grad is not None:
            with torch.no_grad():
                self.lam.add_(lr * self.dual_scale * self.lam.grad).clamp_(min=0.0)
            self.lam.grad = None


def make_loss(dual_scale: float, metric_min_recall: float = 0.9) -> PrecisionAtRecallLoss:
    return PrecisionAtRecallLoss(metric_min_recall, dual_scale)
