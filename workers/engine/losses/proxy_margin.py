"""Margin and square losses for classification: hinge, squared hinge and square loss on one-hot
targets.

None of them models probabilities: the outputs are scores whose sign (binary, multilabel) or
arg-max (multiclass) is the decision, so sigmoid or softmax of them is not calibrated. Their
catalogue entries (:mod:`workers.engine.losses.catalogue.proxy`) serve every metric of their
tasks except those that score calibrated probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from workers.engine.losses.base import (
    Loss,
    LossBuilder,
    LossContext,
    member_mean,
    member_param,
    per_member,
)
from workers.engine.spec import Task


def signed_targets(targets: Tensor) -> Tensor:
    """0/1 targets as -1/+1."""
    return 2.0 * targets - 1.0


class Hinge(Loss):
    """Hinge (``power = 1``) or squared hinge (``power = 2``) loss with a per-member margin.

    Binary: ``max(0, margin - s z)^power`` on the single logit ``z`` with ``s = 2y - 1``, averaged
    over the batch. Multilabel: the same for every (example, label), averaged over both.
    Multiclass: as ``torch.nn.functional.multi_margin_loss(p=power, margin=margin)``, i.e.
    ``sum_{j != y} max(0, margin - z_y + z_j)^power / C`` per example, averaged over the batch.
    Logits are used as they are (no sigmoid or softmax).
    """

    margin: Tensor

    def __init__(self, task: Task, margin: Tensor, power: int) -> None:
        super().__init__()
        self.task = task
        self.power = power
        self.register_buffer("margin", margin)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        margin = per_member(self.margin, outputs)
        if self.task is Task.MULTICLASS:
            index = targets.long().unsqueeze(-1)
            true_logit = outputs.gather(-1, index)
            others = torch.ones_like(outputs).scatter(-1, index, 0.0)
            violation = F.relu(margin + outputs - true_logit) * others
            per_example = violation.pow(self.power).sum(-1) / outputs.shape[-1]
            return member_mean(per_example)
        violation = F.relu(margin - signed_targets(targets) * outputs)
        return member_mean(violation.pow(self.power))


class SquareLossOneHot(Loss):
    """Square loss on the logits against one-hot targets (Hui & Belkin 2021), no softmax.

    Multiclass: ``mean_c (z_c - 1[c = y])^2`` per example, averaged over the batch:
    ``F.mse_loss(z, one_hot(y))``. This is the paper's loss with its rescaling fixed at
    ``k = M = 1``: the paper brings in ``k`` (weight of the true class) and ``M`` (its target)
    only for its tasks with 42 or more classes, so they are not searched here. Binary: the
    single logit regresses the signed target, ``(z - s)^2`` with ``s = 2y - 1``, so the decision
    stays at ``z = 0``; multilabel: the same for every (example, label), averaged over both.
    """

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        if self.task is Task.MULTICLASS:
            goal = F.one_hot(targets.long(), outputs.shape[-1]).to(outputs.dtype)
        else:
            goal = signed_targets(targets)
        return member_mean((outputs - goal).pow(2))


def _hinge(power: int) -> LossBuilder:
    def build(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
        return Hinge(ctx.task, member_param(params, "margin"), power)

    return build


MARGIN_BUILDERS: dict[str, LossBuilder] = {
    "hinge": _hinge(1),
    "squared_hinge": _hinge(2),
    "mse_onehot": lambda params, ctx: SquareLossOneHot(ctx.task),
}
