"""Agreement coefficients from soft confusion matrices: Matthews correlation and Cohen's kappa."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext
from workers.engine.losses.surrogates.common import class_probabilities, class_truth
from workers.engine.spec import Task

MCC_EPS = 1e-5  # segmentation_models_pytorch.losses.MCCLoss's eps, added to each soft count
MCC_FLOOR = 1e-12  # multiclass: the product under the square root is floored here
KAPPA_EPS = 1e-7  # added to both sums of 1 - kappa


class SoftMCC(Loss):
    """``1 - MCC`` from soft confusion counts over the batch.

    Binary (positive class) and multilabel (each label, then the mean over labels): sigmoid
    probabilities, ``tp = sum p y + eps``, ``tn = sum (1 - p)(1 - y) + eps``, ``fp``, ``fn`` alike
    with ``eps = 1e-5``, and ``MCC = (tp tn - fp fn) / sqrt((tp + fp)(tp + fn)(tn + fp)(tn + fn))``
    — ``segmentation_models_pytorch.losses.MCCLoss`` on the batch.

    Multiclass: Gorodkin's R_K (the multiclass MCC of scikit-learn) from the soft confusion
    matrix of softmax probabilities: with ``s`` the batch size, ``c = sum_i p_i,y_i``,
    ``p_k = sum_i p_ik`` and ``t_k`` the count of class ``k``,
    ``MCC = (c s - sum p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2))``, the product under
    the root floored at 1e-12; a batch whose targets are all one class (``s^2 = sum t_k^2``)
    has MCC 0 with no gradient, as scikit-learn returns 0 there.
    """

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        probs = class_probabilities(outputs, self.task)
        truth = class_truth(targets, self.task, probs.shape[-1])
        if self.task is Task.MULTICLASS:
            return 1.0 - _gorodkin(probs, truth)
        tp = (probs * truth).sum(dim=1) + MCC_EPS
        tn = ((1.0 - probs) * (1.0 - truth)).sum(dim=1) + MCC_EPS
        fp = (probs * (1.0 - truth)).sum(dim=1) + MCC_EPS
        fn = ((1.0 - probs) * truth).sum(dim=1) + MCC_EPS
        denominator = torch.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return 1.0 - ((tp * tn - fp * fn) / denominator).mean(dim=-1)


def _gorodkin(probs: Tensor, truth: Tensor) -> Tensor:
    size = float(probs.shape[1])
    correct = (probs * truth).sum(dim=(1, 2))
    predicted, actual = probs.sum(dim=1), truth.sum(dim=1)
    covariance = correct * size - (predicted * actual).sum(dim=-1)
    spread_predicted = size * size - predicted.pow(2).sum(dim=-1)
    spread_actual = size * size - actual.pow(2).sum(dim=-1)  # exact: integer counts
    mcc = covariance / torch.sqrt((spread_predicted * spread_actual).clamp_min(MCC_FLOOR))
    return torch.where(spread_actual > 0, mcc, torch.zeros_like(mcc))


class SoftKappa(Loss):
    """``1 - kappa``: Cohen's weighted kappa from the soft confusion matrix of softmax
    probabilities over the batch.

    ``O = Y^T P`` (true class by predicted probability), ``E = outer(sum Y, sum P) / B`` and
    ``w_ij = |i - j|`` (linear) or ``(i - j)^2`` (quadratic) from the metric's ``weights``;
    the loss is ``(sum w O + 1e-7) / (sum w E + 1e-7)``, which is ``1 - kappa`` up to the
    constant, lies in [0, 2] and is 1 with no gradient on a batch of one class (where O = E).
    """

    def __init__(self, n_classes: int, power: int) -> None:
        super().__init__()
        codes = torch.arange(n_classes, dtype=torch.float32)
        # Shared by every member (not a per-member buffer); moved to the outputs' device.
        self.weights = (codes.unsqueeze(0) - codes.unsqueeze(1)).abs() ** power

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        probs = torch.softmax(outputs, dim=-1)
        truth = class_truth(targets, Task.MULTICLASS, probs.shape[-1])
        observed = torch.einsum("mbi,mbj->mij", truth, probs)
        expected = torch.einsum("mi,mj->mij", truth.sum(dim=1), probs.sum(dim=1)) / probs.shape[1]
        weights = self.weights.to(probs)
        disagreement = (weights * observed).sum(dim=(1, 2))
        chance = (weights * expected).sum(dim=(1, 2))
        return (disagreement + KAPPA_EPS) / (chance + KAPPA_EPS)


def _soft_mcc(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return SoftMCC(ctx.task)


def _soft_qwk(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    power = 1 if ctx.metric_params.get("weights", "quadratic") == "linear" else 2
    return SoftKappa(ctx.n_classes, power)


AGREEMENT_BUILDERS: dict[str, LossBuilder] = {
    "soft_mcc": _soft_mcc,
    "soft_qwk": _soft_qwk,
}
