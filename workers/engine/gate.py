"""The gate: is the leader reliably better than the baseline, before any test figure is seen?

The best of several noisy setups on one validation set is biased upwards (its trial's epochs and
threshold were chosen there too), so the leader is returned only if a paired bootstrap puts its
lift over the baseline reliably above zero (the lower end of the 95% interval). The comparison is
cross-fitted over the training rows (:mod:`workers.engine.cross_fitting`): several times the
validation split's rows, none of which chose anything. When cross-fitting is off or the training
rows are too few to cut into folds, the confirmation runs are compared on validation instead.
"""

from __future__ import annotations

from typing import Literal

from workers.engine.confirmation import ConfirmationPlan, Finalist
from workers.engine.cross_fitting import compare_out_of_fold, cross_fit
from workers.engine.evaluation import Evaluator
from workers.engine.results import Gate
from workers.engine.statistics import PairedComparison
from workers.engine.training import DeviceData
from workers.engine.training_plan import TrainingPlan


def run_gate(
    leader: Finalist,
    baseline: Finalist,
    validation: PairedComparison,
    evaluator: Evaluator,
    device_data: DeviceData,
    plan: TrainingPlan,
    confirmation: ConfirmationPlan,
    job_seed: int,
) -> Gate:
    """Test ``leader`` against ``baseline``: cross-fitted when possible, else ``validation``
    (their confirmation runs compared on the validation rows)."""
    fit_plan = confirmation.cross_fit
    if fit_plan.folds >= 2:
        setups = [leader.config, baseline.config]
        crossed = cross_fit(setups, evaluator, device_data, plan, fit_plan, job_seed)
        if crossed is not None:
            comparison = compare_out_of_fold(
                crossed, 0, 1, evaluator, confirmation.resamples, job_seed
            )
            return _gate(
                comparison,
                method="cross_fitted",
                rows=len(crossed.rows),
                folds=crossed.folds,
                seeds_per_fold=crossed.seeds_per_fold,
                failed_runs=sum(arm.failed_runs for arm in crossed.arms),
            )
    return _gate(validation, method="validation", rows=len(device_data.data.validation))


def _gate(
    comparison: PairedComparison | None,
    *,
    method: Literal["cross_fitted", "validation"],
    rows: int,
    folds: int | None = None,
    seeds_per_fold: int | None = None,
    failed_runs: int = 0,
) -> Gate:
    """The gate's record. No comparison (a setup diverged on every seed of some fold) means the
    leader is not reliably better: it does not pass."""
    lift = comparison.lift if comparison is not None else None
    return Gate(
        method=method,
        rows=rows,
        folds=folds,
        seeds_per_fold=seeds_per_fold,
        lift=None if lift is None else lift.mean,
        lift_interval=None if lift is None else [lift.low, lift.high],
        probability_better=None if comparison is None else comparison.probability_better,
        passed=lift is not None and bool(lift.low > 0),
        failed_runs=failed_runs,
    )
