"""The extension point for losses: the :class:`Loss` module a catalogue entry's builder makes.

Losses are written for a *population* of models trained together. A loss module serves every
member that uses it, with that member's own parameter values:

- ``outputs`` has shape ``(M, B)`` for binary and regression tasks, ``(M, B, C)`` for multiclass
  (C classes) and ``(M, B, L)`` for multilabel (L labels);
- ``targets`` has shape ``(M, B)`` (binary 0/1 floats, multiclass class codes, regression
  standardised values) or ``(M, B, L)`` (multilabel 0/1 floats), or ``(M, B, C)`` for
  multiclass soft targets (a label distribution per row, for the losses whose catalogue entry
  says ``soft_targets``); each member may see its own batch;
- parameters arrive as tensors of shape ``(M,)``;
- the result has shape ``(M,)``: member ``m``'s loss depends on member ``m``'s rows only, so the
  sum over members back-propagates each member's own gradient.

Each catalogue entry (:mod:`workers.engine.losses.catalogue`) has one :data:`LossBuilder`,
registered under its name in :mod:`workers.engine.losses.build`. A single model is a population
of one. Every loss also ships a self-contained snippet (torch only) in
``losses/snippets/<name>.py`` that reproduces it for one model; see
:mod:`workers.engine.losses.snippets`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from workers.engine.param_values import CostMatrix
from workers.engine.spec import Task

# Metrics that do not average per class (or label) with equal weights.
_METRIC_AVERAGES = {"micro_f1": "micro", "samples_f1": "samples", "weighted_f1": "weighted"}


@dataclass(frozen=True)
class LossContext:
    """What a loss may know about the job: task, training-split statistics, schedule, metric.

    Attributes:
        task: the learning task.
        n_outputs: classes (multiclass), labels (multilabel), else 1.
        class_counts: training examples per class, shape (C,) (binary: (2,)); for multilabel
            the positives per label, shape (L,); unused for regression.
        n_train: training-split size.
        max_epochs: the epoch cap (epochs are numbered from 1).
        device: where tensors live.
        metric: the job's metric, and its parameters (e.g. ``min_precision``, ``beta``, the
            cost matrix ``costs``).
        target_mean, target_std: the regression target's training mean and standard deviation;
            targets reach losses standardised with them.
        target_scale: training mean of ``|y|``, the unit of outputs on a log link.
        soft_targets: multiclass targets are label distributions, shape ``(M, B, C)`` floats,
            instead of class codes (only losses whose entry has ``soft_targets`` see them).
        members: how many members the module being built serves (the length of each of its
            parameters); what a loss without parameters sizes its per-member tables by.
    """

    task: Task
    n_outputs: int
    class_counts: Tensor
    device: torch.device
    n_train: int = 0
    max_epochs: int = 1
    metric: str = ""
    metric_params: Mapping[str, float | str | CostMatrix] = field(default_factory=dict)
    target_mean: float = 0.0
    target_std: float = 1.0
    target_scale: float = 1.0
    soft_targets: bool = False
    members: int = 1

    @property
    def n_classes(self) -> int:
        """Classes for single-label classification (2 for binary)."""
        return max(self.n_outputs, 2)

    @property
    def average(self) -> str:
        """How the metric averages over classes or labels: ``macro`` (one score per column, then
        their mean; binary metrics have one column), ``micro`` (counts pooled over columns),
        ``samples`` (one score per example's label set, then their mean) or ``weighted`` (per
        column, weighted by the column's positives)."""
        if self.metric == "jaccard":
            return str(self.metric_params.get("average", "samples"))
        return _METRIC_AVERAGES.get(self.metric, "macro")

    def snippet_values(self) -> dict[str, object]:
        """The context as plain Python values, for filling in a loss snippet."""
        return {
            "class_counts": [float(c) for c in self.class_counts.tolist()],
            "n_train": self.n_train,
            "max_epochs": self.max_epochs,
            "target_mean": self.target_mean,
            "target_std": self.target_std,
            "target_scale": self.target_scale,
            "average": self.average,
            **{f"metric_{k}": v for k, v in self.metric_params.items()},
        }


class Loss(nn.Module):
    """A per-member loss over a population batch (see the module docstring for shapes).

    Per-member state (parameters, dual variables, running statistics) lives in buffers whose
    first dimension is the member axis, so :meth:`select` can drop members that have finished.
    A buffer that requires grad is a loss-owned variable (e.g. AUC-M's ``a`` and ``b``): it
    collects gradients in the backward pass and the loss updates it in :meth:`after_step`.

    ``fusion_key``: modules of several catalogue losses that set the same key are one class with
    per-member parameters for all of them, so a population serves their members with one module
    (one block of kernels per step); None (the default) keeps a loss's members to themselves.
    """

    fusion_key: str | None = None

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        raise NotImplementedError

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Loss:
        # Moving a loss-owned variable (a buffer that requires grad) to another device makes it
        # a non-leaf whose .grad stays None; keep such variables leaves after .to() and friends.
        variables = [n for n, b in self._buffers.items() if b is not None and b.requires_grad]
        super()._apply(fn, recurse)  # type: ignore[no-untyped-call]
        for name in variables:
            buffer = self._buffers[name]
            assert buffer is not None
            if not buffer.is_leaf:
                self._buffers[name] = buffer.detach().requires_grad_()
        return self

    def start_epoch(self, epoch: Tensor | int) -> None:
        """Called before each epoch with each member's epoch number (from 1), shape (M,): members
        join a population at different times. For warm-ups, deferred re-weighting, schedules."""
        for child in self.children():
            if isinstance(child, Loss):
                child.start_epoch(epoch)

    def after_step(self, learning_rates: Tensor) -> None:
        """Called after each optimiser step with the members' learning rates, shape (M,).

        Losses with their own variables update them here (descent for primal variables, ascent
        for dual ones).
        """
        for child in self.children():
            if isinstance(child, Loss):
                child.after_step(learning_rates)

    def advance_stage(self, members: Tensor) -> Tensor:
        """Called when the members at ``members`` (positions within this loss, shape (K,)) have
        stopped improving on validation and would end. Returns a bool per listed member: True
        where the loss moved it on to a next training stage (it then keeps training), False
        where it has none. Staged losses (LDAM-DRW's deferred re-weighting) start their next
        stage here, so early stopping cannot end a member before the stage it was built for."""
        advanced = torch.zeros(len(members), dtype=torch.bool, device=members.device)
        for child in self.children():
            if isinstance(child, Loss):
                advanced |= child.advance_stage(members)
        return advanced

    def learning_rate_multipliers(self, members: int) -> Tensor:
        """Each member's multiplier of its learning rate for the coming epoch, shape (M,): 1
        unless the loss schedules its own (a drop when a training stage starts)."""
        multipliers = torch.ones(members)
        for child in self.children():
            if isinstance(child, Loss):
                multipliers = multipliers * child.learning_rate_multipliers(members).cpu()
        return multipliers

    def select(self, index: Tensor) -> None:
        """Keep only the members at ``index`` (positions within this loss's members)."""
        for name, buffer in list(self.named_buffers(recurse=False)):
            kept = buffer.detach().index_select(0, index)
            setattr(self, name, kept.requires_grad_() if buffer.requires_grad else kept)
        for child in self.children():
            if isinstance(child, Loss):
                child.select(index)
        self.members_changed()

    def extend(self, other: Loss) -> None:
        """Append ``other``'s members (the same loss, built for newcomers) to this module."""
        if type(other) is not type(self):
            raise TypeError(f"cannot extend {type(self).__name__} with {type(other).__name__}")
        theirs = dict(other.named_buffers(recurse=False))
        for name, buffer in list(self.named_buffers(recurse=False)):
            joined = torch.cat([buffer.detach(), theirs[name].detach()])
            setattr(self, name, joined.requires_grad_() if buffer.requires_grad else joined)
        for (_, mine), (_, their_child) in zip(
            self.named_children(), other.named_children(), strict=True
        ):
            if isinstance(mine, Loss) and isinstance(their_child, Loss):
                mine.extend(their_child)
        self.members_changed()

    def members_changed(self) -> None:
        """Called after members joined (:meth:`extend`) or left (:meth:`select`): a module shared
        by several losses re-reads here which of its terms its members use (once per change,
        never per step)."""


# Makes the loss module of one catalogue entry for a group of members: per-member parameters
# (each of shape (M,)) and the job's context.
LossBuilder = Callable[[Mapping[str, Tensor], LossContext], Loss]


def member_param(params: Mapping[str, Tensor], name: str) -> Tensor:
    """A per-member parameter as a float tensor of shape (M,)."""
    return params[name].to(dtype=torch.float32).reshape(-1)


def member_mean(values: Tensor) -> Tensor:
    """Mean over everything but the member axis: (M, ...) -> (M,)."""
    return values.flatten(1).mean(dim=1)


def per_member(value: Tensor, like: Tensor) -> Tensor:
    """Reshape a (M,) tensor so it broadcasts against ``like`` (M, ...)."""
    return value.view(-1, *([1] * (like.dim() - 1)))


def per_task(table: Tensor, task: Task) -> Tensor:
    """A per-member (M, K, C) table laid out for :func:`per_decision`."""
    return table if task is Task.MULTILABEL else table[:, 0]


def per_decision(table: Tensor, targets: Tensor, task: Task) -> Tensor:
    """Each decision's entry for its true class: (M, B) from an (M, C) table, or (M, B, L) from
    an (M, L, 2) table for multilabel."""
    if task is Task.MULTILABEL:
        expanded = table.unsqueeze(1).expand(-1, targets.shape[1], -1, -1)
        return torch.gather(expanded, 3, targets.long().unsqueeze(-1)).squeeze(-1)
    return torch.gather(table, 1, targets.long())
