"""Decisions under a user's cost matrix: the ``expected_cost`` metric's arithmetic.

``costs[i][j]`` is what deciding class ``j`` costs when the true class is ``i`` (rows: true
class, columns: decision). The metric is the mean cost of a model's decisions over the rows.

The decision starts from Bayes' rule on the predicted probabilities,
``argmin_j sum_i p(i|x) costs[i][j]`` (Elkan, The Foundations of Cost-Sensitive Learning,
IJCAI 2001), which is optimal when the probabilities are calibrated. Trained models rarely are,
and a loss that re-weights classes shifts them on purpose (Elkan's theorem 1: re-weighting the
training examples moves the optimal threshold), so the rule is then tuned on validation like the
threshold of F1, and applied unchanged to test:

- binary: a threshold on the logit, the one with the least validation cost (the Bayes threshold,
  :func:`bayes_threshold`, partitions the rows like one of the candidates, so the tuned rule is
  never worse on validation);
- multiclass: per-class offsets subtracted from each class's expected cost, ``argmax_j
  (-sum_i p(i|x) costs[i][j] + o_j)``, tuned by coordinate descent from 0 (pure Bayes) and kept
  only where they strictly lower the validation cost (:func:`tune_cost_offsets`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.special import softmax

from workers.engine.decision_cuts import best_cut
from workers.engine.errors import SpecError
from workers.engine.param_values import CostMatrix

_SWEEPS = 3


def parse_cost_matrix(value: object, where: str) -> CostMatrix:
    """``value`` as a cost matrix, or a SpecError saying what is wrong with it.

    A cost matrix is square (at least 2 x 2) with finite, non-negative numbers. Each row's
    diagonal entry must be its smallest (Elkan's "reasonableness": deciding the true class never
    costs more than a wrong decision, else some decision dominates and the rule is not a
    threshold), and at least one wrong decision must cost more than the right one (else every
    decision costs the same and there is nothing to learn). ``where`` names the parameter.
    """
    if not isinstance(value, list | tuple) or not all(isinstance(r, list | tuple) for r in value):
        raise SpecError(f"{where} must be a list of rows, each a list of numbers")
    size = len(value)
    if size < 2 or any(len(row) != size for row in value):
        shape = f"{size} x {sorted({len(row) for row in value})}" if value else "empty"
        raise SpecError(
            f"{where} must be square, one row and one column per class (rows: true class, "
            f"columns: decided class), at least 2 x 2; got {shape}"
        )
    rows: list[tuple[float, ...]] = []
    for i, row in enumerate(value):
        for j, cell in enumerate(row):
            if isinstance(cell, bool) or not isinstance(cell, int | float):
                raise SpecError(f"{where}[{i}][{j}] must be a number, not {cell!r}")
            if not math.isfinite(cell) or cell < 0:
                raise SpecError(f"{where}[{i}][{j}]={cell} must be finite and non-negative")
        rows.append(tuple(float(cell) for cell in row))
    for i, row in enumerate(rows):
        if min(row) < row[i]:
            raise SpecError(
                f"{where}[{i}][{i}]={row[i]:g} must be the smallest cost in row {i}: deciding "
                "the true class may not cost more than a wrong decision"
            )
    if all(max(row) == row[i] for i, row in enumerate(rows)):
        raise SpecError(
            f"{where} must make some wrong decision cost more than the right one (an "
            "off-diagonal entry above its row's diagonal); as given, every decision costs the same"
        )
    return tuple(rows)


def check_cost_size(costs: CostMatrix, n_classes: int, where: str) -> None:
    """Refuse a matrix whose size is not the target's number of classes."""
    if len(costs) != n_classes:
        raise SpecError(
            f"{where} is {len(costs)} x {len(costs)} but the target has {n_classes} classes: "
            f"give a {n_classes} x {n_classes} matrix, rows and columns in the order of the "
            "sorted class values"
        )


def cost_array(params: Mapping[str, object]) -> np.ndarray:
    """The resolved ``costs`` parameter as a float array (C, C)."""
    return np.asarray(params["costs"], dtype=np.float64)


def bayes_threshold(costs: np.ndarray) -> float:
    """The logit above which Bayes' rule decides the positive class (binary costs, 2 x 2).

    Deciding 1 costs ``p c11 + (1 - p) c01``, deciding 0 ``p c10 + (1 - p) c00``: decide 1 when
    ``p >= (c01 - c00) / ((c01 - c00) + (c10 - c11))``, i.e. ``logit >= log((c01 - c00) / (c10 -
    c11))``; ``c01 / (c01 + c10)`` with a zero diagonal. Infinite when one decision always wins.
    """
    false_positive = costs[0, 1] - costs[0, 0]
    false_negative = costs[1, 0] - costs[1, 1]
    if false_negative <= 0:
        return math.inf
    if false_positive <= 0:
        return -math.inf
    return math.log(false_positive / false_negative)


def risks(logits: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Each row's expected cost of each decision under its softmax probabilities, (N, C)."""
    expected: np.ndarray = np.asarray(softmax(logits, axis=-1)) @ costs
    return expected


def cost_decisions(
    logits: np.ndarray, costs: np.ndarray, offsets: np.ndarray | tuple[float, ...] | float | None
) -> np.ndarray:
    """Multiclass decisions: ``argmax_j (-risk_j + o_j)``; Bayes' rule without offsets."""
    adjusted = -risks(logits, costs)
    if offsets is not None:
        adjusted = adjusted + np.asarray(offsets)
    return np.asarray(adjusted.argmax(axis=-1))


def row_costs(y_true: np.ndarray, decisions: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """What each row's decision cost: ``costs[y, decision]``."""
    row: np.ndarray = costs[y_true.astype(np.int64), decisions.astype(np.int64)]
    return row


def mean_cost(y_true: np.ndarray, decisions: np.ndarray, costs: np.ndarray) -> float:
    """The metric: the mean cost of the decisions over the rows."""
    return float(np.mean(row_costs(y_true, decisions, costs)))


def binary_cost_counts(
    tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray, params: Mapping[str, object]
) -> np.ndarray:
    """The mean cost from confusion counts (the binary threshold's count formula)."""
    c = cost_array(params)
    total = c[0, 0] * tn + c[0, 1] * fp + c[1, 0] * fn + c[1, 1] * tp
    rows = tp + fp + tn + fn
    mean: np.ndarray = np.divide(total, rows, out=np.zeros_like(total), where=rows > 0)
    return mean


def tune_cost_offsets(
    costs: np.ndarray, y_true: np.ndarray, logits: np.ndarray
) -> tuple[tuple[float, ...], float]:
    """Offsets on the expected costs that lower the mean cost on ``(y_true, logits)``, and the
    cost they reach: coordinate descent from 0 (Bayes' rule), each step kept only if it strictly
    lowers the cost."""
    labels = y_true.astype(np.int64)
    adjusted = -risks(logits, costs)
    truth_costs = costs[labels]  # (N, C): each row's cost of each decision
    offsets = np.zeros(costs.shape[0])
    best = float(truth_costs[np.arange(len(labels)), adjusted.argmax(axis=1)].mean())
    for _ in range(_SWEEPS):
        improved = False
        for c in range(costs.shape[0]):
            change, value = _best_cost_offset(adjusted + offsets, c, truth_costs)
            if value < best - 1e-12:
                offsets[c] += change
                best, improved = value, True
        if not improved:
            break
    return tuple(float(o) for o in offsets - offsets.mean()), best


def _best_cost_offset(adjusted: np.ndarray, c: int, truth_costs: np.ndarray) -> tuple[float, float]:
    """The change of class ``c``'s offset that minimises the mean cost, and that cost.

    Raising it by ``g`` moves row ``r`` to ``c`` once ``g`` exceeds ``gap_r``, the distance from
    its best rival to ``c``; cut ``k`` (rows sorted by gap) gives ``c`` the ``k`` smallest gaps.
    The cost of every cut comes from two cumulative sums.
    """
    n_rows = adjusted.shape[0]
    rivals = adjusted.copy()
    rivals[:, c] = -np.inf
    rival = rivals.argmax(axis=1)
    gap = rivals[np.arange(n_rows), rival] - adjusted[:, c]
    order = np.argsort(gap, kind="stable")
    gap = gap[order]
    to_c = truth_costs[order, c]
    to_rival = truth_costs[order, rival[order]]
    zero = np.zeros(1)
    moved = np.concatenate([zero, np.cumsum(to_c)])
    kept = to_rival.sum() - np.concatenate([zero, np.cumsum(to_rival)])
    totals = (moved + kept) / n_rows
    change, negated = best_cut(gap, -totals)  # the least cost is the best cut
    return change, -negated
