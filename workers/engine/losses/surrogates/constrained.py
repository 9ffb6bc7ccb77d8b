"""Constrained objectives (Eban et al. 2017): recall at a precision floor and precision at a
recall floor, as hinge-bound Lagrangians with a loss-owned multiplier ``lambda >= 0`` updated
from the true constraint violation (Cotter et al. 2019's proxy-Lagrangian)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext, member_param
from workers.engine.losses.catalogue.surrogate_ranking import (
    PRECISION_AT_RECALL,
    RECALL_AT_PRECISION,
)
from workers.engine.losses.surrogates.common import loss_variable, take_step
from workers.engine.param_values import number

DEFAULT_LEVEL = 0.9  # the metric catalogue's default min_precision / min_recall


class EbanConstrained(Loss):
    """Eban et al.'s hinge-bound Lagrangian for one constrained metric, on the logits ``u``.

    With hinge losses ``L+ = sum over positives of max(0, 1 - u)`` and ``L- = sum over negatives
    of max(0, 1 + u)`` (``tp >= n+ - L+`` and ``fp <= L-``) and ``n+`` the batch's positives:

    - recall at precision ``>= a``: ``(1 + lam) L+ + lam a / (1 - a) L- - lam n+``;
    - precision at recall ``>= r``: ``L- + lam (L+ - (1 - r) n+)``.

    Convention: both are divided by the batch size (a per-example mean); the level comes from
    the metric's ``min_precision`` / ``min_recall``. ``lam`` starts at 0 and, in
    :meth:`after_step`, takes one projected dual-ascent step ``lam <- max(0, lam + eta g)``
    with ``eta`` = ``dual_scale`` times the member's learning rate, where ``g`` is the batch's
    *true* constraint violation at the decision ``u >= 0`` — ``(a / (1 - a) fp - tp) / B`` for
    the precision floor, ``(fn - (1 - r) n+) / B`` for the recall floor: the hinge terms above
    with the hinges replaced by the counts they bound. Ascending on the hinge bound itself (as
    in Eban et al.) never sees the constraint satisfied, since the bound stays loose: lambda grew
    without limit (to 1.9-290 in 12 toy settings) and the model collapsed to a constant. The
    model still descends the hinge Lagrangian with ``lam`` held fixed. Inside a ``mixed_`` entry
    the gradient reaching ``lam`` carries the surrogate's weight ``1 - lam_mix``, so the dual
    step is zero during the warm-up and scaled down after it.
    """

    dual_scale: Tensor
    lam: Tensor

    def __init__(self, objective: str, level: float, dual_scale: Tensor) -> None:
        super().__init__()
        self.objective = objective
        self.level = level
        self.register_buffer("dual_scale", dual_scale)
        self.register_buffer("lam", loss_variable(dual_scale))

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        positive = (targets > 0.5).to(outputs.dtype)
        hinge_positive = (F.relu(1.0 - outputs) * positive).sum(dim=-1)
        hinge_negative = (F.relu(1.0 + outputs) * (1.0 - positive)).sum(dim=-1)
        n_positive = positive.sum(dim=-1)
        lam = self.lam.detach()  # the model's player sees the multiplier as fixed
        with torch.no_grad():
            predicted = (outputs >= 0.0).to(outputs.dtype)
            tp = (predicted * positive).sum(dim=-1)
            fp = (predicted * (1.0 - positive)).sum(dim=-1)
        if self.objective == RECALL_AT_PRECISION:
            ratio = self.level / (1.0 - self.level)
            lagrangian = (
                (1.0 + lam) * hinge_positive + lam * ratio * hinge_negative - lam * n_positive
            )
            violation = ratio * fp - tp
        else:
            lagrangian = hinge_negative + lam * (hinge_positive - (1.0 - self.level) * n_positive)
            violation = (n_positive - tp) - (1.0 - self.level) * n_positive
        # Zero in value; its gradient with respect to lam is the true violation, which is what
        # the dual step of after_step ascends.
        lagrangian = lagrangian + (self.lam - lam) * violation
        return lagrangian / outputs.shape[-1]

    def after_step(self, learning_rates: Tensor) -> None:
        step = learning_rates.to(self.dual_scale) * self.dual_scale
        take_step(self, "lam", step, ascent=True, nonnegative=True)


def _recall_at_precision(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    level = number(ctx.metric_params, "min_precision", DEFAULT_LEVEL)
    return EbanConstrained(RECALL_AT_PRECISION, level, member_param(params, "dual_scale"))


def _precision_at_recall(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    level = number(ctx.metric_params, "min_recall", DEFAULT_LEVEL)
    return EbanConstrained(PRECISION_AT_RECALL, level, member_param(params, "dual_scale"))


CONSTRAINED_BUILDERS: dict[str, LossBuilder] = {
    "eban_recall_at_precision": _recall_at_precision,
    "eban_precision_at_recall": _precision_at_recall,
}
