"""The paired bootstrap: intervals for each arm, and the lift of the winner over the baseline."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from workers.engine.statistics import paired_bootstrap


def accuracy_of(correct: np.ndarray) -> Callable[[np.ndarray], float]:
    """A scorer: the share of the given rows this run got right."""
    return lambda rows: float(np.mean(correct[rows]))


def mean_error_of(errors: np.ndarray) -> Callable[[np.ndarray], float]:
    """A scorer: the mean error of this run on the given rows."""
    return lambda rows: float(np.mean(errors[rows]))


def test_an_arm_compared_with_itself_has_no_lift() -> None:
    rng = np.random.default_rng(0)
    runs = [accuracy_of(rng.random(200) < 0.8) for _ in range(3)]
    result = paired_bootstrap(runs, runs, 200, greater_is_better=True, resamples=200)
    assert result.lift.mean == 0.0
    assert (result.lift.low, result.lift.high) == (0.0, 0.0)
    assert result.probability_better == 0.0
    assert result.winner.low <= result.winner.mean <= result.winner.high


def test_a_winner_right_wherever_the_baseline_is_has_a_lift_above_zero() -> None:
    rng = np.random.default_rng(1)
    baseline = rng.random(300) < 0.7
    winner = baseline | (rng.random(300) < 0.3)  # every row the baseline gets, and more
    result = paired_bootstrap(
        [accuracy_of(winner)], [accuracy_of(baseline)], 300, greater_is_better=True, resamples=300
    )
    assert result.lift.mean == pytest.approx(winner.mean() - baseline.mean())
    assert result.lift.low > 0
    assert result.probability_better == 1.0


def test_pairing_sees_a_small_consistent_lift_that_unpaired_intervals_would_hide() -> None:
    rng = np.random.default_rng(2)
    difficulty = rng.normal(0.0, 1.0, 500)  # shared by both arms: most of the variance
    baseline = np.abs(difficulty) + 0.05
    winner = np.abs(difficulty)
    result = paired_bootstrap(
        [mean_error_of(winner)], [mean_error_of(baseline)], 500, greater_is_better=False
    )
    # The arms' own intervals overlap, yet the paired lift is reliably positive.
    assert result.winner.high > result.baseline.low
    assert result.lift.mean == pytest.approx(0.05)
    assert result.lift.low > 0  # lower error is better: the lift is signed so positive is better


@pytest.mark.filterwarnings("ignore::scipy.stats.DegenerateDataWarning")
def test_resamples_where_the_metric_is_undefined_are_left_out() -> None:
    def sometimes_undefined(rows: np.ndarray) -> float:
        return float("nan") if rows[0] % 7 == 0 else 0.5

    result = paired_bootstrap(
        [sometimes_undefined], [lambda rows: 0.25], 50, greater_is_better=True, resamples=200
    )
    assert np.isfinite(result.lift.low)
    assert result.lift.low == pytest.approx(0.25)
    assert result.probability_better == 1.0
