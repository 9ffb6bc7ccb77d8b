"""How sure we are: test metrics with intervals, and the paired lift over the baseline.

Each arm (the winner, the baseline) was trained on the same ``r`` fresh seeds. Its test metric is
the mean over its seeds. Uncertainty comes from the test set: ``scipy.stats.bootstrap`` resamples
the test examples (the same resample for both arms: the comparison is paired) and recomputes
both arms' mean metric and their difference on each resample. The intervals are percentile
intervals of those replicates; the probability that the winner is better is the share of
replicates in which it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided interval."""

    mean: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class PairedComparison:
    """Both arms' test metrics and the lift of the first over the second (better is positive)."""

    winner: Interval
    baseline: Interval
    lift: Interval
    probability_better: float
    resamples: int


# Scores one arm's predictions on the test rows at the given indices.
ArmScorer = Callable[[np.ndarray], float]


def paired_bootstrap(
    winner: Sequence[ArmScorer],
    baseline: Sequence[ArmScorer],
    n_rows: int,
    greater_is_better: bool,
    resamples: int = 500,
    seed: int = 0,
) -> PairedComparison:
    """Compare two arms, each a list of per-seed scorers, by resampling the test rows."""
    sign = 1.0 if greater_is_better else -1.0
    same_arm = winner is baseline  # no baseline: only the winner's interval is wanted

    def arm_means(rows: np.ndarray) -> tuple[float, float]:
        ours = float(np.mean([score(rows) for score in winner]))
        if same_arm:
            return ours, ours
        return ours, float(np.mean([score(rows) for score in baseline]))

    def statistic(rows: np.ndarray) -> np.ndarray:
        ours, theirs = arm_means(rows.astype(np.int64))
        return np.array([ours, theirs, sign * (ours - theirs)])

    everything = np.arange(n_rows)
    observed = statistic(everything)
    result = stats.bootstrap(
        (everything,),
        statistic,
        n_resamples=resamples,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=False,
        random_state=np.random.default_rng(seed),
    )
    replicates = result.bootstrap_distribution  # shape (3, resamples)
    # A resample can leave a metric undefined (say, AUC with no positive drawn); those
    # replicates are left out of the percentiles rather than poisoning them.
    tail = 100 * (1 - CONFIDENCE) / 2
    low = np.nanpercentile(replicates, tail, axis=1)
    high = np.nanpercentile(replicates, 100 - tail, axis=1)
    lifts = replicates[2][np.isfinite(replicates[2])]
    return PairedComparison(
        winner=Interval(observed[0], low[0], high[0]),
        baseline=Interval(observed[1], low[1], high[1]),
        lift=Interval(observed[2], low[2], high[2]),
        probability_better=float(np.mean(lifts > 0.0)) if len(lifts) else float("nan"),
        resamples=resamples,
    )
