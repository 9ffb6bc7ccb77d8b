"""Lovász losses (Berman et al. 2018): the Lovász extension of the Jaccard loss, evaluated at
per-example errors sorted in decreasing order, over the whole batch (``per_image=False``)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext
from workers.engine.losses.surrogates.common import class_truth, logits_layout, mean_over_present
from workers.engine.spec import Task


def lovasz_extension(errors: Tensor, truth: Tensor) -> Tensor:
    """The Lovász extension of the Jaccard loss at ``errors``, per column: ``(M, B, K) -> (M, K)``.

    Algorithm 1 of Berman et al.: sort the errors in decreasing order; the weight of the ``i``-th
    is ``J(i) - J(i - 1)`` with ``J(i) = 1 - (P - pos_i) / (P + neg_i)``, ``P`` the positives and
    ``pos_i``, ``neg_i`` the positives and negatives among the ``i`` largest errors. The union is
    at least 1, so a column with no positives is well defined (only its largest error counts).
    """
    sorted_errors, order = torch.sort(errors, dim=1, descending=True)
    sorted_truth = truth.gather(1, order)
    positives = sorted_truth.sum(dim=1, keepdim=True)
    intersection = positives - sorted_truth.cumsum(dim=1)
    union = positives + (1.0 - sorted_truth).cumsum(dim=1)
    jaccard = 1.0 - intersection / union
    weights = torch.cat([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], dim=1)
    return (sorted_errors * weights).sum(dim=1)


class LovaszHinge(Loss):
    """Lovász hinge: the Lovász extension at the hinge errors ``max(0, 1 - u (2y - 1))`` of the
    logits ``u``, over the batch; multilabel applies it to each label and averages over all
    labels. Binary equals ``segmentation_models_pytorch.losses.LovaszLoss("binary",
    per_image=False)`` and kornia's ``lovasz_hinge_loss`` on the batch as one image."""

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        logits = logits_layout(outputs, self.task)
        truth = class_truth(targets, self.task, logits.shape[-1])
        errors = F.relu(1.0 - logits * (2.0 * truth - 1.0))
        return lovasz_extension(errors, truth).mean(dim=-1)


class LovaszSoftmax(Loss):
    """Lovász-softmax: per class, the Lovász extension at the errors ``|y_c - p_c|`` of the softmax
    probabilities over the batch, averaged over the classes present in the batch (Berman et al.'s
    ``classes="present"``, as ``segmentation_models_pytorch.losses.LovaszLoss("multiclass",
    per_image=False)``)."""

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        probs = torch.softmax(outputs, dim=-1)
        truth = class_truth(targets, Task.MULTICLASS, probs.shape[-1])
        per_class = lovasz_extension((truth - probs).abs(), truth)
        return mean_over_present(per_class, truth.sum(dim=1) > 0, empty=0.0)


def _lovasz_hinge(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return LovaszHinge(ctx.task)


def _lovasz_softmax(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return LovaszSoftmax()


LOVASZ_BUILDERS: dict[str, LossBuilder] = {
    "lovasz_hinge": _lovasz_hinge,
    "lovasz_softmax": _lovasz_softmax,
}
