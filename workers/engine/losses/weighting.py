"""Shared pieces of the weighted losses: class counts per label, class weights, per-decision
lookups and the class-weighted cross-entropy they feed.

Class statistics are kept in a ``(K, C)`` layout: one row of ``C`` class counts for binary
(``C = 2``) and multiclass, and for multilabel one row ``(negatives, positives)`` per label
(``K = L``, ``C = 2``). Per-member tables built from them have shape ``(M, K, C)`` and are
stored as :func:`per_task` lays them out: ``(M, C)`` unless multilabel, ``(M, L, 2)`` then.
"""

from __future__ import annotations

import torch
from torch import Tensor

from workers.engine.losses.base import Loss, per_decision
from workers.engine.losses.proxy import per_example_cross_entropy
from workers.engine.spec import Task

# Cao et al. (2019) switch their deferred re-weighting to class-balanced weights with this beta.
DRW_ONE_MINUS_BETA = 1e-4


def label_class_counts(task: Task, class_counts: Tensor, n_train: int) -> Tensor:
    """Counts per (label, class), shape (L, 2), for per-label weighting of multilabel tasks.

    For binary and multiclass tasks, the class counts themselves with a leading axis of 1.
    """
    if task is Task.MULTILABEL:
        positives = class_counts.float()
        return torch.stack([n_train - positives, positives], dim=-1)
    return class_counts.float().unsqueeze(0)


def mean_one_over_examples(raw: Tensor, counts: Tensor) -> Tensor:
    """Scale weights (M, K, C) so each row averages 1 over the training examples ``counts``.

    This keeps the loss scale (and so the useful learning-rate range) that of plain
    cross-entropy.
    """
    mean_weight = (raw * counts).sum(-1, keepdim=True) / counts.sum(-1, keepdim=True)
    return raw / mean_weight


def power_weights(counts: Tensor, power: Tensor) -> Tensor:
    """Class weights ``w_c ∝ n_c^-power`` (counts clamped at 1), shape (M, K, C)."""
    clamped = counts.clamp_min(1.0)
    raw = clamped.unsqueeze(0).pow(-power.view(-1, 1, 1))
    return mean_one_over_examples(raw, clamped)


def effective_number_weights(counts: Tensor, one_minus_beta: Tensor) -> Tensor:
    """Class-balanced weights ``w_c ∝ (1 - beta) / (1 - beta^n_c)`` (Cui et al. 2019), (M, K, C).

    ``(1 - beta^n) / (1 - beta)`` is the effective number of samples of a class with ``n``
    examples; the weight is its inverse. Computed in float64 as ``-expm1(n log1p(-q)) / q`` with
    ``q = 1 - beta`` (exact where ``beta`` is close to 1), counts clamped at 1, then scaled to
    average 1 over the training examples.
    """
    q = one_minus_beta.to(torch.float64).view(-1, 1, 1)
    clamped = counts.to(torch.float64).clamp_min(1.0)
    effective = -torch.expm1(clamped.unsqueeze(0) * torch.log1p(-q)) / q
    return mean_one_over_examples(1.0 / effective, clamped).to(torch.float32)


def weighted_mean(values: Tensor, weights: Tensor) -> Tensor:
    """``sum(w * v) / sum(w)`` per member, over everything but the member axis."""
    return (weights * values).flatten(1).sum(1) / weights.flatten(1).sum(1)


def mean_of_weighted(values: Tensor, weights: Tensor) -> Tensor:
    """``mean(w * v)`` per member, over everything but the member axis."""
    return (weights * values).flatten(1).mean(1)


class ClassWeightedCrossEntropy(Loss):
    """Cross-entropy with per-member class weights, averaged as in Cui et al.'s code and King &
    Zeng's weighted likelihood: ``mean_i w_{y_i} CE_i`` over the batch.

    The weights average 1 over the training examples, so the loss keeps cross-entropy's scale,
    and each class's share of the expected gradient is what its weight says (at power 1, one
    half for each class of a binary task). Dividing by the batch's own ``sum_i w_{y_i}`` instead
    (``F.cross_entropy(weight=w)``) damps a rare class exactly in the batches that hold it: at
    3.4% positives its share fell to 0.38. Binary: over BCE terms; multilabel: over every
    (example, label) BCE term, each label weighting its own negatives and positives. ``weights``
    is laid out by :func:`per_task`.
    """

    weights: Tensor

    def __init__(self, task: Task, weights: Tensor) -> None:
        super().__init__()
        self.task = task
        self.register_buffer("weights", weights)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        per_example = per_example_cross_entropy(outputs, targets, self.task)
        return mean_of_weighted(per_example, per_decision(self.weights, targets, self.task))
