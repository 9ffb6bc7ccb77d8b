"""Losses for a cost matrix (the ``expected_cost`` metric's ``costs``): the expected cost under
the predicted distribution (a surrogate) and cross-entropy weighted by each class's cost of a
mistake (a weighted proxy). Catalogue entries: ``soft_expected_cost`` in
:mod:`workers.engine.losses.catalogue.surrogate`, ``cost_weighted_ce`` in
:mod:`workers.engine.losses.catalogue.weighted`.

Both read the matrix from ``LossContext.metric_params["costs"]`` (rows: true class, columns:
decided class). Without one (a loss built outside a cost job) they use 0-1 costs, under which the
surrogate is ``1 - p(y|x)`` and the weighted cross-entropy is the plain one.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext, member_mean, member_param
from workers.engine.losses.weighting import (
    ClassWeightedCrossEntropy,
    label_class_counts,
    mean_one_over_examples,
)
from workers.engine.spec import Task


def cost_matrix(ctx: LossContext) -> Tensor:
    """The job's cost matrix (C, C) as float32, or 0-1 costs when the job has none."""
    given = ctx.metric_params.get("costs")
    if isinstance(given, list | tuple):
        return torch.tensor([[float(c) for c in row] for row in given], dtype=torch.float32)
    return 1.0 - torch.eye(ctx.n_classes)


def mistake_costs(costs: Tensor) -> Tensor:
    """Each true class's mean regret of a wrong decision, ``mean_{j != i} (C[i, j] - C[i, i])``,
    shape (C,). For two classes it is Elkan's ``c01 - c00`` and ``c10 - c11``, the ratio that makes
    re-weighting equivalent to moving the threshold to the cost-optimal one."""
    n = costs.shape[0]
    regret = costs - costs.diagonal().unsqueeze(1)
    return regret.sum(dim=1) / (n - 1)  # the diagonal's regret is 0


class SoftExpectedCost(Loss):
    """The expected cost of a decision drawn from the model's distribution: ``mean_b sum_j
    p_j(x_b) C[y_b, j]``, with softmax probabilities (binary: ``(1 - p) C[y, 0] + p C[y, 1]``).

    Differentiable and equal to the metric's mean cost at one-hot predictions; like every
    bounded loss its gradient fades on confidently wrong rows, hence the mixture with
    cross-entropy that the catalogue adds.
    """

    def __init__(self, task: Task, costs: Tensor) -> None:
        super().__init__()
        self.task = task
        self.costs = costs  # shared by every member; moved to the outputs' device

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        costs = self.costs.to(outputs)
        rows = costs[targets.long()]  # (M, B, C): each example's cost of each decision
        if self.task is Task.BINARY:
            p = torch.sigmoid(outputs)
            expected = (1.0 - p) * rows[..., 0] + p * rows[..., 1]
        else:
            expected = (F.softmax(outputs, dim=-1) * rows).sum(dim=-1)
        return member_mean(expected)


def _soft_expected_cost(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return SoftExpectedCost(ctx.task, cost_matrix(ctx))


def _cost_weighted_ce(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    counts = label_class_counts(ctx.task, ctx.class_counts, ctx.n_train)  # (1, C)
    power = member_param(params, "power").view(-1, 1, 1)
    raw = mistake_costs(cost_matrix(ctx)).view(1, 1, -1).pow(power)  # (M, 1, C)
    weights = mean_one_over_examples(raw, counts.clamp_min(1.0))
    return ClassWeightedCrossEntropy(ctx.task, weights[:, 0])


COST_SURROGATE_BUILDERS: dict[str, LossBuilder] = {"soft_expected_cost": _soft_expected_cost}
COST_WEIGHTED_BUILDERS: dict[str, LossBuilder] = {"cost_weighted_ce": _cost_weighted_ce}
