"""The cross-entropies of sigmoid decisions as one loss module, so that a population trains
them in one block.

Binary and multilabel decisions have one logit ``z`` each. Seven catalogue losses on them are
binary cross-entropy with per-member parameters and nothing else: plain cross-entropy (every
parameter neutral), class weights (power and class-balanced, and the focal loss's ``alpha``),
focal modulation ``(1 - p_t)^gamma``, logit adjustment (a shift of ``z`` by ``tau`` times the
prior log-odds), label smoothing (the target ``y (1 - eps) + eps / 2``) and Poly-1's ``+ epsilon
(1 - p_t)``. Each decision costs

    ``w_y [ (1 - p_t)^gamma BCE(z + shift, y (1 - s) + s / 2) + epsilon (1 - p_t) ]``

averaged over decisions, with ``p_t`` the sigmoid probability of the true class under the raw
logit (``1 - p_t = sigmoid(-z_t)``, ``z_t = z`` for a positive and ``-z`` for a negative). Every
parameter is neutral (``w = 1``, ``gamma = shift = s = epsilon = 0``) except those of the
member's own loss, which then reduces exactly to its definition.

:class:`SigmoidCrossEntropies` holds the five parameters per member, so members of different
losses extend one module, and a population step costs one block of kernels for all of them
instead of one block per loss (``bench.population_step``: each extra block costs a few hundred
microseconds on a CPU). A term no member of the block uses is skipped, so a block of plain
cross-entropy costs what ``F.binary_cross_entropy_with_logits`` does. Multiclass versions of
these losses are modules of their own (softmax couples the classes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from workers.engine.losses.base import Loss, member_mean, per_decision, per_member
from workers.engine.spec import Task

FUSION_KEY = "sigmoid_cross_entropies"


class SigmoidCrossEntropies(Loss):
    """Per-member binary cross-entropy with class weights, focal modulation, a logit shift, label
    smoothing and a Poly-1 term (see the module docstring).

    Shapes: ``weights`` (M, 2) for binary, (M, L, 2) for multilabel (:func:`per_task` layout:
    negatives' weight, positives' weight); ``shift`` (M, 1) for binary, (M, L) for multilabel;
    ``gamma``, ``smoothing`` and ``poly`` (M,). Build it with :meth:`for_members`.
    """

    fusion_key = FUSION_KEY

    weights: Tensor
    shift: Tensor
    gamma: Tensor
    smoothing: Tensor
    poly: Tensor

    def __init__(
        self,
        task: Task,
        weights: Tensor,
        shift: Tensor,
        gamma: Tensor,
        smoothing: Tensor,
        poly: Tensor,
    ) -> None:
        super().__init__()
        if task not in (Task.BINARY, Task.MULTILABEL):
            raise ValueError(f"sigmoid cross-entropies are for binary and multilabel tasks: {task}")
        self.task = task
        self.register_buffer("weights", weights)
        self.register_buffer("shift", shift)
        self.register_buffer("gamma", gamma)
        self.register_buffer("smoothing", smoothing)
        self.register_buffer("poly", poly)
        self.members_changed()

    @classmethod
    def for_members(
        cls,
        task: Task,
        n_outputs: int,
        *,
        weights: Tensor | None = None,
        shift: Tensor | None = None,
        gamma: Tensor | None = None,
        smoothing: Tensor | None = None,
        poly: Tensor | None = None,
    ) -> SigmoidCrossEntropies:
        """Members with the given per-member parameters (at least one; its first dimension is
        the member axis), the others neutral."""
        given = [t for t in (weights, shift, gamma, smoothing, poly) if t is not None]
        if not given:
            raise ValueError("give at least one per-member parameter")
        members, device = given[0].shape[0], given[0].device
        labels = n_outputs if task is Task.MULTILABEL else 1
        zeros = torch.zeros(members, device=device)
        neutral_weights = torch.ones(
            (members, 2) if task is Task.BINARY else (members, labels, 2), device=device
        )
        return cls(
            task,
            weights if weights is not None else neutral_weights,
            shift if shift is not None else torch.zeros(members, labels, device=device),
            gamma if gamma is not None else zeros,
            smoothing if smoothing is not None else zeros.clone(),
            poly if poly is not None else zeros.clone(),
        )

    def members_changed(self) -> None:
        # Which terms some member uses.
        self._weighted = bool((self.weights != 1.0).any())
        self._shifted = bool((self.shift != 0.0).any())
        self._focal = bool((self.gamma != 0.0).any())
        self._smoothed = bool((self.smoothing != 0.0).any())
        self._poly = bool((self.poly != 0.0).any())

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        logits = outputs
        if self._shifted:
            logits = outputs + (self.shift if self.task is Task.BINARY else self.shift.unsqueeze(1))
        truth = targets
        if self._smoothed:
            smoothing = per_member(self.smoothing, outputs)
            truth = targets * (1.0 - smoothing) + 0.5 * smoothing
        losses = F.binary_cross_entropy_with_logits(logits, truth, reduction="none")
        if self._focal or self._poly:
            # log(1 - p_t) of the raw logit, from log-sigmoid: finite at any logit, and its
            # gradient too for gamma < 1.
            true_logit = torch.where(targets > 0.5, outputs, -outputs)
            log_p_other = F.logsigmoid(-true_logit)
            if self._focal:
                losses = torch.exp(per_member(self.gamma, outputs) * log_p_other) * losses
            if self._poly:
                losses = losses + per_member(self.poly, outputs) * torch.exp(log_p_other)
        if self._weighted:
            losses = losses * per_decision(self.weights, targets, self.task)
        return member_mean(losses)
