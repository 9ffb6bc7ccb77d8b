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
