"""Shared pieces of the surrogate losses: class probabilities, soft counts and the update of
loss-owned variables.

Every surrogate here is computed per member from that member's rows only, and reduced to shape
``(M,)``. Confusion-count surrogates work on a ``(M, B, K)`` layout: ``K = 1`` for binary (the
positive class), ``K = L`` labels for multilabel, ``K = C`` classes for multiclass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from workers.engine.losses.base import Loss
from workers.engine.spec import Task


def class_probabilities(outputs: Tensor, task: Task) -> Tensor:
    """Probabilities in the ``(M, B, K)`` layout: sigmoid (binary, multilabel) or softmax."""
    if task is Task.MULTICLASS:
        return torch.softmax(outputs, dim=-1)
    probs = torch.sigmoid(outputs)
    return probs.unsqueeze(-1) if task is Task.BINARY else probs


def class_truth(targets: Tensor, task: Task, n_columns: int) -> Tensor:
    """0/1 targets in the ``(M, B, K)`` layout (one-hot class codes for multiclass)."""
    if task is Task.MULTICLASS:
        return F.one_hot(targets.long(), n_columns).to(torch.float32)
    truth = targets.to(torch.float32)
    return truth.unsqueeze(-1) if task is Task.BINARY else truth


def logits_layout(outputs: Tensor, task: Task) -> Tensor:
    """Logits in the ``(M, B, K)`` layout (binary gains a trailing axis of one)."""
    return outputs.unsqueeze(-1) if task is Task.BINARY else outputs


def soft_counts(probs: Tensor, truth: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Soft true positives, false positives and false negatives per column, each ``(M, K)``."""
    tp = (probs * truth).sum(dim=1)
    fp = (probs * (1.0 - truth)).sum(dim=1)
    fn = ((1.0 - probs) * truth).sum(dim=1)
    return tp, fp, fn


def mean_over_present(per_column: Tensor, present: Tensor, empty: float) -> Tensor:
    """Mean of ``(M, K)`` values over the columns marked present; ``empty`` where none is."""
    weights = present.to(per_column.dtype)
    n_present = weights.sum(dim=-1)
    mean = (per_column * weights).sum(dim=-1) / n_present.clamp_min(1.0)
    return torch.where(n_present > 0, mean, torch.full_like(mean, empty))


def take_step(
    loss: Loss, name: str, step: Tensor, *, ascent: bool = False, nonnegative: bool = False
) -> None:
    """One gradient step on the loss-owned variable ``name`` (shape ``(M,)``), then clear its
    gradient: ``v - step * grad`` (descent) or ``v + step * grad`` (ascent), projected onto
    ``v >= 0`` if asked. Does nothing if no gradient reached it since the last step."""
    variable: Tensor = getattr(loss, name)
    if variable.grad is None:
        return
    with torch.no_grad():
        direction = variable.grad if ascent else -variable.grad
        variable.add_(step * direction)
        if nonnegative:
            variable.clamp_(min=0.0)
    variable.grad = None


def loss_variable(like: Tensor, value: float = 0.0) -> Tensor:
    """A fresh ``(M,)`` loss-owned variable on ``like``'s device, collecting gradients."""
    return torch.full_like(like, value, dtype=torch.float32).requires_grad_()
