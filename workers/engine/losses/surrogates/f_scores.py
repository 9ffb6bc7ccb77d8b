"""F-score surrogates: F-beta from soft confusion counts (soft_f1) and from a tunable sigmoid of
the logits (sigmoid_f1) or of the probabilities (sigmoid_f1_prob).

On binary and multilabel tasks the three are one module, :class:`SigmoidFBetas` (per member, a
sigmoid of the logits or of the probabilities, then the same soft F-beta), so a population trains
their members in one block; multiclass keeps one module per loss.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext, member_param
from workers.engine.losses.catalogue.entry import SIGMOID_TASKS
from workers.engine.losses.surrogates.common import (
    class_probabilities,
    class_truth,
    logits_layout,
    soft_counts,
)
from workers.engine.param_values import number
from workers.engine.spec import Task

EPSILON = 1e-7


def soft_f_beta(probs: Tensor, truth: Tensor, beta: float) -> Tensor:
    """``(1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp + 1e-7)`` per column, ``(M, K)``."""
    tp, fp, fn = soft_counts(probs, truth)
    return _f_beta(tp, fp, fn, beta)


def _f_beta(tp: Tensor, fp: Tensor, fn: Tensor, beta: float) -> Tensor:
    b2 = beta * beta
    return (1.0 + b2) * tp / ((1.0 + b2) * tp + b2 * fn + fp + EPSILON)


def averaged_soft_f_beta(probs: Tensor, truth: Tensor, beta: float, average: str) -> Tensor:
    """Soft F-beta of ``(M, B, K)`` probabilities averaged as the metric does, shape ``(M,)``.

    ``macro``: per column over the batch, then the mean over columns. ``micro``: counts pooled
    over the batch and the columns. ``weighted``: per column, weighted by the column's positives
    in the batch (the plain mean if there are none). ``samples``: per example over its columns,
    then the mean over examples.
    """
    if average == "samples":
        tp, fp, fn = soft_counts(probs.transpose(1, 2), truth.transpose(1, 2))
        return _f_beta(tp, fp, fn, beta).mean(dim=-1)
    if average == "micro":
        tp, fp, fn = (count.sum(dim=-1) for count in soft_counts(probs, truth))
        return _f_beta(tp, fp, fn, beta)
    per_column = soft_f_beta(probs, truth, beta)
    if average == "weighted":
        support = truth.sum(dim=1)
        total = support.sum(dim=-1)
        weighted = (per_column * support).sum(dim=-1) / total.clamp_min(1.0)
        return torch.where(total > 0, weighted, per_column.mean(dim=-1))
    return per_column.mean(dim=-1)


def metric_beta(ctx: LossContext) -> float:
    """The F-beta metric's ``beta`` (1 for every other metric)."""
    return number(ctx.metric_params, "beta", 1.0)


class SoftFBeta(Loss):
    """``1 - soft F-beta``: F-beta with confusion counts from probabilities, over the batch
    (the multiclass module; binary and multilabel: :class:`SigmoidFBetas`).

    Convention: probabilities are sigmoid (binary: the positive class only; multilabel: each
    label) or softmax (multiclass: each class against the rest, one-hot targets). Per column,
    ``tp = sum p y``, ``fp = sum p (1 - y)``, ``fn = sum (1 - p) y`` over the batch, and
    ``F = (1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp + 1e-7)`` with ``b`` the metric's ``beta``
    (1 unless the metric is fbeta). The loss is ``1 - F`` averaged over columns as the metric
    averages (:func:`averaged_soft_f_beta`): macro for f1, macro_f1 and fbeta, micro for
    micro_f1, per example for samples_f1, by support for weighted_f1. Under macro every column
    counts, so a column with no positives in the batch contributes a constant 1 with zero
    gradient.
    """

    def __init__(self, task: Task, beta: float, average: str = "macro") -> None:
        super().__init__()
        self.task = task
        self.beta = beta
        self.average = average

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        probs = class_probabilities(outputs, self.task)
        truth = class_truth(targets, self.task, probs.shape[-1])
        return 1.0 - averaged_soft_f_beta(probs, truth, self.beta, self.average)


class SigmoidFBeta(Loss):
    """sigmoidF1 (Bénédict et al. 2022): soft F-beta of ``S(u) = sigmoid(slope * (u + offset))``.

    Convention: ``u`` is the logit of each column — binary: the one logit; multilabel: each
    label's; multiclass: each class's own logit, one-vs-rest against one-hot targets (no
    softmax). Counts, F-beta (with the metric's ``beta``, 1 unless fbeta), the 1e-7 in the
    denominator and the averaging over columns are those of :class:`SoftFBeta`; slope 1 and
    offset 0 give soft_f1 on binary and multilabel tasks.
    """

    slope: Tensor
    offset: Tensor

    def __init__(
        self, task: Task, beta: float, slope: Tensor, offset: Tensor, average: str = "macro"
    ) -> None:
        super().__init__()
        self.task = task
        self.beta = beta
        self.average = average
        self.register_buffer("slope", slope)
        self.register_buffer("offset", offset)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        logits = logits_layout(outputs, self.task)
        slope, offset = self.slope.view(-1, 1, 1), self.offset.view(-1, 1, 1)
        probs = torch.sigmoid(slope * (logits + offset))
        truth = class_truth(targets, self.task, logits.shape[-1])
        return 1.0 - averaged_soft_f_beta(probs, truth, self.beta, self.average)


class ProbabilitySigmoidFBeta(Loss):
    """sigmoidF1 in the parametrisation of the authors' code: soft F-beta of
    ``S(p) = 1 / (1 + exp(S * (p + E)))`` on the class probabilities ``p`` (sigmoid for binary
    and each multilabel label, softmax for multiclass), so published ``(S, E)`` settings mean
    what they meant there. The paper writes the same sigmoid on the logits, which is
    :class:`SigmoidFBeta`; with ``S < 0`` the step sits at ``p = -E``. Counts, F-beta and the
    averaging over columns are those of :class:`SoftFBeta`.
    """

    slope: Tensor
    offset: Tensor

    def __init__(
        self, task: Task, beta: float, slope: Tensor, offset: Tensor, average: str = "macro"
    ) -> None:
        super().__init__()
        self.task = task
        self.beta = beta
        self.average = average
        self.register_buffer("slope", slope)
        self.register_buffer("offset", offset)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        probs = class_probabilities(outputs, self.task)
        slope, offset = self.slope.view(-1, 1, 1), self.offset.view(-1, 1, 1)
        stepped = torch.sigmoid(-slope * (probs + offset))  # = 1 / (1 + exp(S (p + E)))
        truth = class_truth(targets, self.task, probs.shape[-1])
        return 1.0 - averaged_soft_f_beta(stepped, truth, self.beta, self.average)


class SigmoidFBetas(Loss):
    """soft_f1, sigmoid_f1 and sigmoid_f1_prob on binary and multilabel tasks, one module.

    Per member, the soft predictions are ``sigmoid(slope * (u + offset))`` of the logits ``u``
    (sigmoid_f1; soft_f1 is slope 1, offset 0, exactly ``sigmoid(u)``) or, where
    ``on_probabilities``, ``sigmoid(-slope * (p + offset))`` of the probabilities ``p =
    sigmoid(u)`` (sigmoid_f1_prob's ``S`` and ``E``); then ``1 - soft F-beta`` exactly as
    :class:`SoftFBeta`, :class:`SigmoidFBeta` and :class:`ProbabilitySigmoidFBeta` compute it.
    A form no member of the module uses is not computed.
    """

    fusion_key = "sigmoid_f_beta"

    slope: Tensor
    offset: Tensor
    on_probabilities: Tensor

    def __init__(
        self,
        task: Task,
        beta: float,
        slope: Tensor,
        offset: Tensor,
        on_probabilities: Tensor,
        average: str = "macro",
    ) -> None:
        super().__init__()
        if task not in SIGMOID_TASKS:
            raise ValueError(f"SigmoidFBetas is for binary and multilabel tasks, not {task}")
        self.task = task
        self.beta = beta
        self.average = average
        self.register_buffer("slope", slope)
        self.register_buffer("offset", offset)
        self.register_buffer("on_probabilities", on_probabilities)
        self.members_changed()

    def members_changed(self) -> None:
        # Which forms the members use.
        self._probabilities = bool(self.on_probabilities.any())
        self._logits = not bool(self.on_probabilities.all())

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        logits = logits_layout(outputs, self.task)
        slope, offset = self.slope.view(-1, 1, 1), self.offset.view(-1, 1, 1)
        if self._logits:
            soft = torch.sigmoid(slope * (logits + offset))
        if self._probabilities:
            stepped = torch.sigmoid(-slope * (torch.sigmoid(logits) + offset))
            on_probabilities = self.on_probabilities.view(-1, 1, 1)
            soft = torch.where(on_probabilities, stepped, soft) if self._logits else stepped
        truth = class_truth(targets, self.task, logits.shape[-1])
        return 1.0 - averaged_soft_f_beta(soft, truth, self.beta, self.average)


def _sigmoid_f_betas(
    ctx: LossContext, slope: Tensor, offset: Tensor, on_probabilities: bool
) -> Loss:
    flags = torch.full_like(slope, on_probabilities, dtype=torch.bool)
    return SigmoidFBetas(ctx.task, metric_beta(ctx), slope, offset, flags, ctx.average)


def _soft_f1(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    if ctx.task in SIGMOID_TASKS:
        ones = torch.ones(ctx.members, device=ctx.device)
        return _sigmoid_f_betas(ctx, ones, torch.zeros_like(ones), on_probabilities=False)
    return SoftFBeta(ctx.task, metric_beta(ctx), ctx.average)


def _sigmoid_f1(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    slope, offset = member_param(params, "slope"), member_param(params, "offset")
    if ctx.task in SIGMOID_TASKS:
        return _sigmoid_f_betas(ctx, slope, offset, on_probabilities=False)
    return SigmoidFBeta(ctx.task, metric_beta(ctx), slope, offset, ctx.average)


def _sigmoid_f1_prob(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    slope, offset = member_param(params, "S"), member_param(params, "E")
    if ctx.task in SIGMOID_TASKS:
        return _sigmoid_f_betas(ctx, slope, offset, on_probabilities=True)
    return ProbabilitySigmoidFBeta(ctx.task, metric_beta(ctx), slope, offset, ctx.average)


F_SCORE_BUILDERS: dict[str, LossBuilder] = {
    "soft_f1": _soft_f1,
    "sigmoid_f1": _sigmoid_f1,
    "sigmoid_f1_prob": _sigmoid_f1_prob,
}
