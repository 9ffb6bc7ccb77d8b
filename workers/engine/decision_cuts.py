"""Where to move a decision: the best cut of rows sorted by how far each is from changing.

Shared by the multiclass decision tuners (logit offsets in :mod:`workers.engine.class_offsets`,
expected-cost offsets in :mod:`workers.engine.costs`): both sort rows by the offset change that
would flip their decision and score every cut at once.
"""

from __future__ import annotations

import numpy as np


def best_cut(gap: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """The best of the ``len(gap) + 1`` cuts of rows sorted by ascending ``gap`` (``values[k]``:
    the value when the first ``k`` rows change their decision; larger is better), as the offset
    change that realises it and its value."""
    n_rows = len(gap)
    # A cut between two equal gaps cannot be made by any offset.
    feasible = np.ones(n_rows + 1, dtype=bool)
    feasible[1:n_rows] = gap[1:] > gap[:-1]
    values = np.where(feasible, values, -np.inf)
    k = int(np.argmax(values))
    # The offset change that realises cut k: midway between the gaps around it.
    if k == 0:
        change = gap[0] - 1.0
    elif k == n_rows:
        change = gap[-1] + 1.0
    else:
        change = (gap[k - 1] + gap[k]) / 2.0
    return float(change), float(values[k])


def best_cuts(gap: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`best_cut` for several members at once: ``gap`` (K, N) sorted along each row,
    ``values`` (K, N + 1); the offset changes and values, each (K,)."""
    n_members, n_rows = gap.shape
    feasible = np.ones((n_members, n_rows + 1), dtype=bool)
    feasible[:, 1:n_rows] = gap[:, 1:] > gap[:, :-1]
    values = np.where(feasible, values, -np.inf)
    k = values.argmax(axis=1)
    rows = np.arange(n_members)
    below = gap[rows, np.clip(k - 1, 0, n_rows - 1)]
    above = gap[rows, np.clip(k, 0, n_rows - 1)]
    change = np.where(
        k == 0, gap[:, 0] - 1.0, np.where(k == n_rows, gap[:, -1] + 1.0, (below + above) / 2.0)
    )
    return change, values[rows, k]
