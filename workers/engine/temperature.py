"""Temperature scaling (Guo et al., On Calibration of Modern Neural Networks, ICML 2017).

A network's logits ``z`` are often over-confident; dividing them by one temperature ``T > 0``
before the sigmoid or softmax fixes most of it without changing any decision (the arg-max and
the sign of a logit stay the same, so accuracy and every ranking metric are untouched). For the
metrics that score probabilities where calibration matters (log loss, Brier score, calibration
error), ``T`` is fitted on validation for every trial, the baseline included, and applied
unchanged to test: the probability counterpart of the decision threshold.

What is minimised:

- ``log_loss`` and ``brier``: the metric itself (both are smooth in ``T``).
- ``ece``: the negative log-likelihood, as Guo et al. do. The binned calibration error is a
  step function of ``T`` (it moves only when a prediction changes bin), so minimising it directly
  chases bin boundaries on the validation rows; the likelihood is smooth, and a proper scoring
  rule, so its ``T`` calibrates without over-fitting the bins.

Either is computed against Platt's smoothed targets (Platt 1999, the same fit with a bias term):
a positive counts as ``(N+ + 1) / (N+ + 2)`` and a negative as ``1 / (N- + 2)``, with ``N+`` and
``N-`` the validation positives and negatives (per label for multilabel; for multiclass the row's
class gets ``(N_y + 1) / (N_y + 2)`` and the other classes share the rest). When a model
separates the validation rows, the plain metric keeps falling as ``T`` goes to 0 and the fit
makes every prediction 0 or 1: on breast_cancer (114 validation rows) the fitted ``T`` hit its
lower bound and the test log loss of the returned setup rose from 0.29 to 0.91, each test
mistake costing up to 36. With the smoothed targets ``T`` stays finite (predictions end about as
sure as the validation rows can tell) and that test log loss fell to 0.11 instead. Where the
plain fit is well defined they bias ``T`` upwards a little: 1.41 to 1.49 on spambase (920
validation rows), 1.74 to 2.07 on satimage (1,287 rows; with six classes the mass moved off the
true class lands on classes a confident model gives almost nothing), for test log losses of
0.1763 against 0.1769 and 0.2701 against 0.2715, well inside the noise of either. The value
reported is always the metric itself, on the real labels, at the fitted ``T``.

Multilabel (only ``ece`` applies) gets one shared ``T`` over every (example, label) pair, fitted
by their pooled binary likelihood: the metric pools the pairs the same way, and one parameter
fitted on all pairs cannot over-fit a rare label as a ``T`` per label could.

The fit is a 1-D search on ``log T`` within ``[1/100, 100]``, for every member of a population at
once: a grid of :data:`_GRID` points (``T = 1`` among them) then golden-section refinement
around the best grid point, 21 evaluations of the objective in all. The negative log-likelihood
is convex in ``1 / T``, so unimodal in ``log T``, and the search finds its minimum; the Brier
score is unimodal in practice, and the grid guards the rare case where it is not. The chosen
``T`` is never worse on the objective than ``T = 1`` (the grid contains it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from workers.engine.spec import Task

# T in [1/100, 100]. Over-confident networks need T of a few; a member stopped early on nearly
# separable data can need T well below 1/10 (its logits have the ranking but not yet the scale).
T_MIN, T_MAX = 0.01, 100.0
LOG_T_BOUND = float(np.log(T_MAX))  # symmetric: log T_MIN = -log T_MAX
_GRID = 7  # odd, so that log T = 0 (no scaling) is a grid point
# The two cells around the best grid point (width 3.1 in log T) shrink to 0.01: T to 0.5%, where
# the objective is flat to about 1e-5 of its value. Every step costs an exp over (M, N, C).
_GOLDEN_STEPS = 12
_INVERSE_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0

# log T per member (M,) -> the objective per member (M,), on logits and labels bound in advance
Objective = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class FittedTemperatures:
    """Each member's temperature and, at it, the metric the fit stands for on the real labels:
    the log loss (for log_loss and ece) or the Brier score."""

    temperatures: np.ndarray
    value: np.ndarray


def apply_temperature(logits: np.ndarray, temperature: float | None) -> np.ndarray:
    """``logits / temperature``; the logits themselves when there is no temperature."""
    if temperature is None:
        return logits
    return logits / temperature


def fits_on_metric(metric: str) -> bool:
    """Whether the fit minimises ``metric`` itself (else the negative log-likelihood)."""
    return metric in ("log_loss", "brier")


def fit_temperatures(
    metric: str, task: Task, y_true: np.ndarray, logits: np.ndarray
) -> FittedTemperatures:
    """The fitted temperature of each member: ``logits`` has shape (M, N) for binary, (M, N, C)
    for multiclass and (M, N, L) for multilabel; ``y_true`` is the validation target.

    ``metric`` is one of :data:`workers.engine.metrics.TEMPERATURE_TUNED`: ``brier`` is fitted on
    itself, the others on the negative log-likelihood (the module docstring says why)."""
    y, logits = np.asarray(y_true), np.asarray(logits, dtype=np.float64)
    classes = logits.shape[2] if task is Task.MULTICLASS else 2
    objective = _objective(metric, task, platt_targets(task, y, classes), logits)
    members = len(logits)
    grid = np.linspace(-LOG_T_BOUND, LOG_T_BOUND, _GRID)
    on_grid = np.stack([objective(np.full(members, u)) for u in grid], axis=1)
    best = np.argmin(on_grid, axis=1)
    at_best = on_grid[np.arange(members), best]
    step = grid[1] - grid[0]
    # The minimum lies within a cell of the best grid point (inside the bounds).
    low = np.maximum(grid[best] - step, -LOG_T_BOUND)
    high = np.minimum(grid[best] + step, LOG_T_BOUND)
    refined, value = _golden(objective, low, high)
    # Refinement can only improve on the grid point it started from; keep the grid point if
    # the tolerance of the search (or a flat objective) left it no better.
    chosen = np.where(value < at_best, refined, grid[best])
    on_labels = _objective(metric, task, _hard_targets(task, y, logits), logits)(chosen)
    # exp(log 100) is not exactly 100 in floating point; the bounds themselves are promised.
    return FittedTemperatures(np.clip(np.exp(chosen), T_MIN, T_MAX), on_labels)


def fit_temperature(metric: str, task: Task, y_true: np.ndarray, logits: np.ndarray) -> float:
    """The fitted temperature of one model's ``logits`` (N[, K])."""
    return float(fit_temperatures(metric, task, y_true, logits[None, ...]).temperatures[0])


def _golden(
    objective: Objective, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Golden-section search on [low, high] for every member at once: one new evaluation of
    the objective per member per step (each member keeps its own bracket)."""
    a, b = low.copy(), high.copy()
    c, d = b - _INVERSE_GOLDEN * (b - a), a + _INVERSE_GOLDEN * (b - a)
    fc, fd = objective(c), objective(d)
    for _ in range(_GOLDEN_STEPS):
        left = fc < fd  # the minimum lies in [a, d]: d becomes the right end, c the new d
        a, b = np.where(left, a, c), np.where(left, d, b)
        c, d, fc, fd = (
            np.where(left, b - _INVERSE_GOLDEN * (b - a), d),
            np.where(left, c, a + _INVERSE_GOLDEN * (b - a)),
            np.where(left, np.nan, fd),
            np.where(left, fc, np.nan),
        )
        value = objective(np.where(left, c, d))
        fc, fd = np.where(left, value, fc), np.where(left, fd, value)
    return np.where(fc < fd, c, d), np.minimum(fc, fd)


def platt_targets(task: Task, y_true: np.ndarray, classes: int = 2) -> np.ndarray:
    """Platt's smoothed targets for ``y_true``: (N,) for binary, (N, L) for multilabel, (N, C)
    rows of probabilities over ``classes`` classes for multiclass (the module docstring says
    why)."""
    if task is Task.MULTICLASS:
        labels = y_true.astype(np.int64)
        counts = np.bincount(labels, minlength=classes).astype(np.float64)
        sure = (counts[labels] + 1.0) / (counts[labels] + 2.0)
        targets = np.repeat(((1.0 - sure) / (classes - 1))[:, None], classes, axis=1)
        targets[np.arange(len(labels)), labels] = sure
        return targets
    positive = y_true > 0
    n_positive = positive.sum(axis=0).astype(np.float64)
    n_negative = len(y_true) - n_positive
    smoothed: np.ndarray = np.where(
        positive, (n_positive + 1) / (n_positive + 2), 1 / (n_negative + 2)
    )
    return smoothed


def _hard_targets(task: Task, y_true: np.ndarray, logits: np.ndarray) -> np.ndarray:
    if task is Task.MULTICLASS:
        return np.eye(logits.shape[2])[y_true.astype(np.int64)]
    hard: np.ndarray = (y_true > 0).astype(np.float64)
    return hard


def _inverse(log_t: np.ndarray, ndim: int) -> np.ndarray:
    """``1 / T`` per member, shaped to broadcast against (M, N[, K]) arrays."""
    inverse: np.ndarray = np.exp(-log_t).reshape((-1,) + (1,) * (ndim - 1))
    return inverse


def _binary_nll(targets: np.ndarray, logits: np.ndarray) -> Objective:
    # -t log sigmoid(z) - (1 - t) log sigmoid(-z) = softplus(z) - t z; multilabel cells pooled.
    cells = logits.reshape(len(logits), -1)
    weights = targets.reshape(-1)

    def nll(log_t: np.ndarray) -> np.ndarray:
        scaled = cells * _inverse(log_t, 2)
        value: np.ndarray = (np.logaddexp(0.0, scaled) - weights * scaled).mean(axis=1)
        return value

    return nll


def _multiclass_nll(targets: np.ndarray, logits: np.ndarray) -> Objective:
    # -sum_c t_c log softmax(z / T)_c = logsumexp(z / T) - sum_c t_c z_c / T, the targets summing
    # to 1. max(z / T) = max(z) / T for T > 0: shifting by the row maximum once keeps every
    # exp(.) at most 1 for every T, so each evaluation is one exp and one log.
    shifted = logits - logits.max(axis=2, keepdims=True)
    picked = np.einsum("mnc,nc->mn", shifted, targets)
    # One buffer reused by every evaluation: allocating a fresh (M, N, C) array for each made
    # them several times slower, and a population's fit does 21 of them.
    scratch = np.empty_like(shifted)

    def nll(log_t: np.ndarray) -> np.ndarray:
        inverse = _inverse(log_t, 3)
        np.multiply(shifted, inverse, out=scratch)
        np.exp(scratch, out=scratch)
        normaliser = np.log(np.einsum("mnc->mn", scratch))
        value: np.ndarray = (normaliser - picked * inverse[..., 0]).mean(axis=1)
        return value

    return nll


def _binary_brier(targets: np.ndarray, logits: np.ndarray) -> Objective:
    def brier(log_t: np.ndarray) -> np.ndarray:
        value: np.ndarray = ((expit(logits * _inverse(log_t, 2)) - targets) ** 2).mean(axis=1)
        return value

    return brier


def _objective(metric: str, task: Task, targets: np.ndarray, logits: np.ndarray) -> Objective:
    if task is Task.REGRESSION:
        raise ValueError(f"no temperature is fitted for {metric!r} on a regression task")
    if metric == "brier":
        return _binary_brier(targets, logits)
    return (_multiclass_nll if task is Task.MULTICLASS else _binary_nll)(targets, logits)
