"""Noise-robust classification proxies: generalised and symmetric cross-entropy, and the
bi-tempered logistic loss.

The first two are functions of each decision's probability of its true class, ``p_y = exp(-CE)``
with ``CE`` the decision's cross-entropy (:func:`per_example_cross_entropy`: BCE for binary and
each multilabel label, softmax CE for multiclass), averaged over decisions. The bi-tempered loss
replaces the softmax by a heavy-tailed tempered softmax and the log by a bounded tempered log
(binary and each multilabel label: two classes with logits ``(0, z)``). All three bound the loss
of a confidently wrong decision, which mislabelled rows otherwise dominate.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext, member_param, per_member
from workers.engine.losses.proxy import per_example_cross_entropy
from workers.engine.spec import Task

# Wang et al.'s reverse cross-entropy takes log 0 as this constant for the one-hot label.
LOG_ZERO = -4.0

# A temperature this close to 1 is computed with its limit (ordinary exp or log): the tempered
# forms divide by 1 - t.
TEMPERATURE_EPS = 1e-6
# Newton steps for the tempered softmax's normaliser; from the maximum logit they converge
# monotonically, to float32 round-off within 8 steps in a sweep of 2 to 1000 classes, logits
# up to 1e4 apart and t from 1 + 1e-6 to 6.
NORMALISER_STEPS = 10
# Two classes (binary and multilabel decisions) reach float32 round-off within 4 steps, in a sweep
# of logits from -60 to 60 and t from 1.0001 to 4; the normaliser is most of this loss's cost.
TWO_CLASS_NORMALISER_STEPS = 5


class GeneralizedCrossEntropy(Loss):
    """Zhang & Sabuncu (2018): mean ``(1 - p_y^q) / q`` with a per-member ``q`` in (0, 1]:
    cross-entropy as ``q -> 0``, MAE on probabilities (``1 - p_y``) at ``q = 1``."""

    q: Tensor

    def __init__(self, task: Task, q: Tensor) -> None:
        super().__init__()
        self.task = task
        self.register_buffer("q", q)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        cross_entropy = per_example_cross_entropy(outputs, targets, self.task)
        q = per_member(self.q, cross_entropy)
        # p_y^q = exp(-q CE): finite for any logit, unlike a power of a saturated probability.
        return ((1.0 - torch.exp(-q * cross_entropy)) / q).flatten(1).mean(dim=1)


class SymmetricCrossEntropy(Loss):
    """Wang et al. (2019): mean ``alpha CE + beta RCE``, where the reverse cross-entropy of a
    one-hot label with ``log 0 = -4`` is ``RCE = 4 (1 - p_y)``."""

    alpha: Tensor
    beta: Tensor

    def __init__(self, task: Task, alpha: Tensor, beta: Tensor) -> None:
        super().__init__()
        self.task = task
        self.register_buffer("alpha", alpha)
        self.register_buffer("beta", beta)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        cross_entropy = per_example_cross_entropy(outputs, targets, self.task)
        alpha, beta = per_member(self.alpha, cross_entropy), per_member(self.beta, cross_entropy)
        reverse = -LOG_ZERO * (1.0 - torch.exp(-cross_entropy))
        return (alpha * cross_entropy + beta * reverse).flatten(1).mean(dim=1)


def tempered_log_softmax(logits: Tensor, t: Tensor) -> Tensor:
    """Log of the tempered softmax ``p_i = exp_t(a_i - lambda(a))`` over the last dimension, with
    ``exp_t(x) = [1 + (1 - t) x]_+^(1 / (1 - t))`` and the normaliser ``lambda(a)`` solving
    ``sum_i exp_t(a_i - lambda) = 1`` (Amid et al. 2019); ``t`` broadcasts against ``logits``.

    Only ``t >= 1`` (heavy tails); ``t = 1`` is the softmax. Every ``a_i - lambda <= 0``, so
    ``log p_i = -log(1 + (t - 1)(lambda - a_i)) / (t - 1)`` is finite for any logits.

    The normaliser is found by Newton's method on ``Z(lambda)^(1 - t) - 1``, with
    ``Z = sum_i exp_t(a_i - lambda)``: ``Z^(1 - t)`` is a power mean (exponent ``-1 / (t - 1)``)
    of the ``1 + (t - 1)(lambda - a_i)``, concave and increasing in ``lambda``, so Newton's steps
    from ``lambda = max a`` rise monotonically to the root (one step is exact when all logits
    are equal). This converges faster than the paper's fixed-point Algorithm 1, which
    after 5 iterations left ``sum p`` off 1 by up to 0.4 in the same sweep. All steps but the
    last are taken without gradient; the last one's gradient is the implicit one,
    ``d lambda / d a_j = p_j^t / sum_i p_i^t``.
    """
    s = t - 1.0
    near = s.abs() < TEMPERATURE_EPS
    s = torch.where(near, torch.ones_like(s), s)  # the limit branch below is used instead
    # Shifted so the largest logit is 0: lambda - a_i stays exact for logits far apart.
    shifted = logits - logits.max(dim=-1, keepdim=True).values.detach()
    lam = torch.zeros_like(shifted[..., :1])
    steps = TWO_CLASS_NORMALISER_STEPS if logits.shape[-1] == 2 else NORMALISER_STEPS
    with torch.no_grad():
        for _ in range(steps - 1):
            lam = lam + _newton_step(shifted.detach(), lam, s)
    lam = lam + _newton_step(shifted, lam, s)
    tempered = -torch.log1p(s * (lam - shifted)) / s
    return torch.where(near, torch.log_softmax(logits, dim=-1), tempered)


def _newton_step(shifted: Tensor, lam: Tensor, s: Tensor) -> Tensor:
    """Newton's step on ``Z^(-s) - 1`` (``s = t - 1 > 0``): ``(1 - Z^(-s)) Z^(1 + s) / (s S)``
    with ``S = sum_i exp_t(a_i - lambda)^t = -dZ/dlambda``, computed from logs."""
    log_e = -torch.log1p(s * (lam - shifted)) / s  # log exp_t(a_i - lambda) <= 0
    # No log-sum-exp needed: every term is at most 1, and from lambda = 0 up to the root the
    # largest is at least 1 / C, so the sum neither overflows nor underflows (and this is a
    # third of logsumexp's cost on small tensors).
    log_z = torch.log(torch.exp(log_e).sum(dim=-1, keepdim=True))
    escort_sum = torch.exp((1.0 + s) * log_e).sum(dim=-1, keepdim=True)
    return -torch.expm1(-s * log_z) * torch.exp((1.0 + s) * log_z) / (s * escort_sum)


class BiTemperedLogisticLoss(Loss):
    """Amid, Warmuth, Anil & Koren (2019): mean over decisions of the Bregman divergence of the
    tempered log ``log_t1(x) = (x^(1 - t1) - 1) / (1 - t1)`` between the one-hot label ``y`` and
    the tempered softmax ``p`` of temperature ``t2`` (:func:`tempered_log_softmax`):
    ``sum_i y_i (log_t1 y_i - log_t1 p_i) - (y_i^(2 - t1) - p_i^(2 - t1)) / (2 - t1)``, which is
    ``-log_t1 p_y + (sum_i p_i^(2 - t1) - 1) / (2 - t1)``.

    ``t1 < 1`` bounds it: ``-log_t1 p_y <= 1 / (1 - t1)`` and ``sum_i p_i^(2 - t1) <= 1``, so a
    decision costs at most ``1 / (1 - t1)``, whatever its logits; ``t2 > 1`` gives the
    probabilities heavy tails. ``t1 = t2 = 1`` is cross-entropy. Binary and multilabel decisions
    are two classes with logits ``(0, z)``. Per-member ``t1`` in [0, 1], ``t2 >= 1``.
    """

    t1: Tensor
    t2: Tensor

    def __init__(self, task: Task, t1: Tensor, t2: Tensor) -> None:
        super().__init__()
        if bool((t2 < 1.0).any()):
            raise ValueError("the bi-tempered loss supports t2 >= 1 only")
        self.task = task
        self.register_buffer("t1", t1)
        self.register_buffer("t2", t2)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        logits = outputs
        if self.task is not Task.MULTICLASS:
            logits = torch.stack([torch.zeros_like(outputs), outputs], dim=-1)
        classes = targets.long()
        t1, t2 = per_member(self.t1, logits), per_member(self.t2, logits)
        log_p = tempered_log_softmax(logits, t2)
        log_p_true = log_p.gather(-1, classes.unsqueeze(-1)).squeeze(-1)
        r = (1.0 - t1).squeeze(-1)  # 1 - t1, broadcasting against log_p_true
        near = r.abs() < TEMPERATURE_EPS
        r_safe = torch.where(near, torch.ones_like(r), r)
        tempered_log_true = torch.where(near, log_p_true, torch.expm1(r_safe * log_p_true) / r_safe)
        power_sum = torch.exp((2.0 - t1) * log_p).sum(dim=-1)
        loss = -tempered_log_true + (power_sum - 1.0) / (1.0 + r)
        return loss.flatten(1).mean(dim=1)


def _generalized(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return GeneralizedCrossEntropy(ctx.task, member_param(params, "q"))


def _symmetric(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return SymmetricCrossEntropy(
        ctx.task, member_param(params, "alpha"), member_param(params, "beta")
    )


def _bi_tempered(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    return BiTemperedLogisticLoss(ctx.task, member_param(params, "t1"), member_param(params, "t2"))


ROBUST_BUILDERS: dict[str, LossBuilder] = {
    "generalized_ce": _generalized,
    "symmetric_ce": _symmetric,
    "bi_tempered": _bi_tempered,
}
