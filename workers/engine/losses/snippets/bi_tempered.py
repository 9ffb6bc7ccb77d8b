"""Bi-tempered logistic loss (Amid, Warmuth, Anil & Koren 2019), averaged over decisions.

With the tempered log log_t(x) = (x^(1-t) - 1) / (1-t) and exp_t(x) = [1 + (1-t) x]_+^(1/(1-t)),
the probabilities are the tempered softmax p_i = exp_t2(a_i - lam), lam solving
sum_i exp_t2(a_i - lam) = 1, and a decision with true class y costs
-log_t1(p_y) + (sum_i p_i^(2-t1) - 1) / (2-t1), at most 1 / (1-t1) when t1 < 1.
t1 = t2 = 1 is cross-entropy; t2 >= 1 only. Binary and multilabel decisions are two classes
with logits (0, z). lam is found by Newton's method on Z^(1-t2) - 1, Z = sum_i exp_t2(a_i - lam),
from the largest logit; only the last step carries gradient (the implicit one).
"""

from collections.abc import Callable

import torch

EPS = 1e-6  # a temperature this close to 1 uses the ordinary exp / log
STEPS = 10  # Newton steps for the normaliser; two classes need fewer (TWO_CLASS_STEPS)
TWO_CLASS_STEPS = 5


def _newton_step(shifted: torch.Tensor, lam: torch.Tensor, s: float) -> torch.Tensor:
    log_e = -torch.log1p(s * (lam - shifted)) / s
    log_z = torch.log(torch.exp(log_e).sum(dim=-1, keepdim=True))  # each term <= 1
    escort_sum = torch.exp((1.0 + s) * log_e).sum(dim=-1, keepdim=True)
    return -torch.expm1(-s * log_z) * torch.exp((1.0 + s) * log_z) / (s * escort_sum)


def tempered_log_softmax(logits: torch.Tensor, t: float) -> torch.Tensor:
    if abs(t - 1.0) < EPS:
        return torch.log_softmax(logits, dim=-1)
    s = t - 1.0
    shifted = logits - logits.max(dim=-1, keepdim=True).values.detach()
    lam = torch.zeros_like(shifted[..., :1])
    steps = TWO_CLASS_STEPS if logits.shape[-1] == 2 else STEPS
    with torch.no_grad():
        for _ in range(steps - 1):
            lam = lam + _newton_step(shifted, lam, s)
    lam = lam + _newton_step(shifted, lam, s)
    return -torch.log1p(s * (lam - shifted)) / s


def make_loss(
    task: str, t1: float, t2: float
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if t2 < 1.0:
        raise ValueError("t2 >= 1 only")

    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if task != "multiclass":
            logits = torch.stack([torch.zeros_like(logits), logits], dim=-1)
        log_p = tempered_log_softmax(logits, t2)
        log_p_true = log_p.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1)
        r = 1.0 - t1
        tempered_log_true = log_p_true if abs(r) < EPS else torch.expm1(r * log_p_true) / r
        power_sum = torch.exp((2.0 - t1) * log_p).sum(dim=-1)
        return (-tempered_log_true + (power_sum - 1.0) / (2.0 - t1)).mean()

    return loss_fn
