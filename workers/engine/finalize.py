"""After the search: confirm the finalists on fresh seeds, pick the winner, compare with baseline.

The leader is the finalist with the best mean validation metric over the confirmation seeds (see
:mod:`workers.engine.confirmation`). It becomes the winner only if a paired bootstrap over the
*validation* rows puts its lift over the baseline reliably above zero (the lower end of the 95%
interval); otherwise the baseline is returned. The best of several noisy setups on one
validation set is biased upwards (thresholds and epochs were chosen on it too), and this gate is
what keeps such a lucky leader from being returned as a win. Only then are the winner and the
baseline scored on the test split, with each run's threshold chosen on validation, and compared
with a paired bootstrap (:mod:`workers.engine.statistics`). Nothing on the test split feeds back
into any choice.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections import Counter
from typing import Any, Literal

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState
from scipy.special import expit

from workers.engine.confirmation import (
    ConfirmationPlan,
    Finalist,
    choose_winner,
    config_of,
    confirmation_seeds,
    consensus_threshold,
    link_of,
    run_confirmation,
)
from workers.engine.errors import NoCompletedTrials
from workers.engine.evaluation import Evaluator, Threshold
from workers.engine.losses import baseline_loss, get_loss
from workers.engine.losses.snippets import render_snippet
from workers.engine.networks import network_shape
from workers.engine.space import SearchSpace
from workers.engine.statistics import PairedComparison, paired_bootstrap
from workers.engine.studies import failure_summary, retried_trial_numbers
from workers.engine.training import DeviceData
from workers.engine.training_plan import TrainingPlan
from workers.engine.trial_records import records_of


def finalize(
    study: optuna.Study,
    space: SearchSpace,
    evaluator: Evaluator,
    device_data: DeviceData,
    plan: TrainingPlan,
    job_seed: int,
    confirmation: ConfirmationPlan | None = None,
) -> dict[str, Any]:
    """The job's result: winner, baseline, their metrics with intervals, and the lift."""
    confirmation = confirmation or ConfirmationPlan()
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not complete:
        raise NoCompletedTrials(
            failure_summary([t for t in trials if t.state != TrialState.WAITING])
        )
    finalists, baseline = _finalists(complete, space, evaluator, confirmation.top_k)
    seeds = confirmation_seeds(job_seed, confirmation.seeds)
    run_confirmation(finalists, evaluator, device_data, plan, seeds)
    try:
        leader = choose_winner(finalists, evaluator)
    except ValueError:
        raise NoCompletedTrials(
            "every finalist failed when retrained on fresh seeds: the search's results do not "
            "reproduce"
        ) from None
    winner, gate = leader, None
    if baseline is not None and baseline.completed and leader is not baseline:
        gate = _compare(leader, baseline, evaluator, device_data, confirmation, job_seed, "val")
        if not gate.lift.low > 0:
            winner = baseline
    # With no usable baseline the winner is compared with itself: that still gives its interval.
    reference = baseline if baseline is not None and baseline.completed else winner
    comparison = _compare(winner, reference, evaluator, device_data, confirmation, job_seed, "test")
    describe = _Describer(evaluator, device_data, plan)
    metric = evaluator.metric
    return {
        "metric": {
            "name": metric.name,
            "params": evaluator.params,
            "direction": metric.direction.value,
        },
        "best": describe.setup(winner, comparison.winner),
        "baseline": describe.setup(baseline, comparison.baseline if reference is baseline else None)
        if baseline is not None
        else None,
        "comparison": _verdict(winner, baseline, comparison, evaluator, leader, gate),
        "confirmation": {
            "top_k": confirmation.top_k,
            "seeds": len(seeds),
            "bootstrap_resamples": confirmation.resamples,
            "finalists": [describe.finalist(f, f is winner) for f in finalists],
            "leader_trial_number": leader.trial.number,
        },
        "network": network_shape(
            device_data.data.n_features, device_data.data.n_outputs
        ).describe(),
        "dataset": device_data.data.summary,
        "search_space": space.describe(),
        "training": plan.describe(),
        "trial_counts": _counts(trials),
        "environment": environment(device_data),
    }


def _finalists(
    complete: list[FrozenTrial], space: SearchSpace, evaluator: Evaluator, top_k: int
) -> tuple[list[Finalist], Finalist | None]:
    """The top ``top_k`` distinct setups, and the baseline (best plain-loss trial)."""
    sign = -1.0 if evaluator.metric.greater_is_better else 1.0
    ranked = sorted(complete, key=lambda t: (sign * float(t.value or 0.0), t.number))
    finalists: list[Finalist] = []
    seen: set[tuple[object, ...]] = set()
    for trial in ranked:
        config = config_of(trial)
        key = (
            config.loss,
            tuple(sorted(config.loss_params.items())),
            config.learning_rate,
            config.batch_size,
        )
        if key in seen:
            continue
        seen.add(key)
        finalists.append(Finalist(trial, config))
        if len(finalists) == top_k:
            break
    baseline_name = baseline_loss(space.task).name
    plain = [t for t in ranked if t.user_attrs.get("loss") == baseline_name]
    if not plain:
        return finalists, None
    baseline = next((f for f in finalists if f.trial.number == plain[0].number), None)
    if baseline is None:
        baseline = Finalist(plain[0], config_of(plain[0]))
        finalists.append(baseline)
    return finalists, baseline


def _compare(
    winner: Finalist,
    baseline: Finalist,
    evaluator: Evaluator,
    device_data: DeviceData,
    confirmation: ConfirmationPlan,
    job_seed: int,
    on: Literal["val", "test"],
) -> PairedComparison:
    """Paired bootstrap of two finalists' runs over the rows of the validation or test split."""
    split = device_data.data.validation if on == "val" else device_data.data.test
    cache: dict[int, list[Any]] = {}

    def scorers(finalist: Finalist) -> list[Any]:
        # The same list object for the same finalist, so comparing it with itself is cheap.
        return cache.setdefault(id(finalist), _scorers(finalist))

    def _scorers(finalist: Finalist) -> list[Any]:
        link = link_of(finalist)
        return [
            evaluator.scorer(
                split,
                run.validation_outputs if on == "val" else run.test_outputs,
                run.result.score.threshold,
                link,
            )
            for run in finalist.completed
            if run.result.score is not None
            and run.validation_outputs is not None
            and run.test_outputs is not None
        ]

    return paired_bootstrap(
        scorers(winner),
        scorers(baseline),
        len(split),
        evaluator.metric.greater_is_better,
        confirmation.resamples,
        seed=job_seed,
    )


class _Describer:
    """Turns finalists into the JSON the API returns."""

    def __init__(self, evaluator: Evaluator, device_data: DeviceData, plan: TrainingPlan) -> None:
        self.evaluator, self.device_data, self.plan = evaluator, device_data, plan
        self.context = device_data.loss_context(plan, evaluator)

    def _test_values(self, finalist: Finalist) -> list[float]:
        test = self.device_data.data.test
        link = link_of(finalist)
        return [
            self.evaluator.score_split(test, run.test_outputs, run.result.score.threshold, link)
            for run in finalist.completed
            if run.result.score is not None and run.test_outputs is not None
        ]

    def setup(self, finalist: Finalist, test: Any | None) -> dict[str, Any]:
        trial, config = finalist.trial, finalist.config
        spec = get_loss(config.loss)
        validation = finalist.validation_values()
        test_values = self._test_values(finalist)
        epochs = [run.result.best_epoch for run in finalist.completed]
        return {
            "trial_number": trial.number,
            "arm": trial.user_attrs.get("arm"),
            "family": spec.family.value,
            "loss": spec.name,
            "loss_params": dict(config.loss_params),
            "training": {
                **self.plan.describe(),
                "batch_size": config.batch_size or self.plan.batch_size,
                "learning_rate": config.learning_rate,
                "epochs": int(np.median(epochs)) if epochs else None,
                "seeds": [run.seed for run in finalist.runs],
            },
            "threshold": _threshold(consensus_threshold(finalist.thresholds())),
            "trial_validation": trial.value,
            "validation": float(np.mean(validation)) if validation else None,
            "validation_std": float(np.std(validation)) if validation else None,
            "validation_seeds": validation,
            "test": test.mean if test else (float(np.mean(test_values)) if test_values else None),
            "test_interval": [test.low, test.high] if test else None,
            "test_seeds": test_values,
            "failed_runs": len(finalist.runs) - len(finalist.completed),
            "output_link": spec.link,
            "code": render_snippet(
                spec.name,
                self.context.task,
                dict(config.loss_params),
                self.context,
                spec.reference,
                spec.link,
            ),
        }

    def finalist(self, finalist: Finalist, won: bool) -> dict[str, Any]:
        validation = finalist.validation_values()
        return {
            "trial_number": finalist.trial.number,
            "loss": finalist.loss,
            "family": get_loss(finalist.loss).family.value,
            "trial_validation": finalist.trial.value,
            "validation_mean": float(np.mean(validation)) if validation else None,
            "validation_std": float(np.std(validation)) if validation else None,
            "completed_runs": len(finalist.completed),
            "winner": won,
        }


def _verdict(
    winner: Finalist,
    baseline: Finalist | None,
    comparison: PairedComparison,
    evaluator: Evaluator,
    leader: Finalist,
    gate: PairedComparison | None,
) -> dict[str, Any]:
    """The comparison in numbers and in one plain sentence.

    ``leader`` had the best mean validation metric; ``gate`` is its paired comparison with the
    baseline on validation (None when the leader is the baseline or there is no baseline).
    """
    name = evaluator.metric.name
    if baseline is None or not baseline.completed:
        return {
            "test_lift": None,
            "summary": "The baseline did not complete on the confirmation seeds, so there is no "
            "comparison.",
        }
    on_validation: dict[str, Any] = {
        "validation_lift": _validation_lift(leader, baseline, evaluator)
    }
    if gate is not None:
        on_validation["validation_lift_interval"] = [gate.lift.low, gate.lift.high]
    if winner is baseline:
        if leader is baseline:
            summary = (
                f"No loss beat the plain baseline ({baseline.loss}) on validation over the "
                "confirmation seeds: keep the baseline loss. That is a useful answer, not a "
                "failure."
            )
        else:
            assert gate is not None
            summary = (
                f"{leader.loss} had the best mean validation {name}, but its lift over the "
                f"baseline on validation ({gate.lift.mean:+.4g}, 95% interval "
                f"[{gate.lift.low:+.4g}, {gate.lift.high:+.4g}]) is not reliably above zero, so "
                f"the baseline ({baseline.loss}) is returned: keep it. That is a useful answer, "
                "not a failure."
            )
        return {
            "test_lift": 0.0,
            "test_lift_interval": [0.0, 0.0],
            "probability_better": 0.0,
            "significant": False,
            **on_validation,
            "leader": {"trial_number": leader.trial.number, "loss": leader.loss},
            "summary": summary,
        }
    lift = comparison.lift
    interval = f"95% interval [{lift.low:+.4g}, {lift.high:+.4g}]"
    if lift.low > 0:
        summary = (
            f"{winner.loss} beats the baseline on test {name}: {comparison.winner.mean:.4g} vs "
            f"{comparison.baseline.mean:.4g} (lift {lift.mean:+.4g}, {interval}; better in "
            f"{comparison.probability_better:.0%} of resampled test sets)."
        )
    elif lift.high < 0:
        summary = (
            f"{winner.loss} was reliably better on validation but is worse than the baseline on "
            f"test {name} (lift {lift.mean:+.4g}, {interval}): keep the baseline."
        )
    else:
        summary = (
            f"The search found nothing reliably better than the baseline: {winner.loss} was "
            f"better on validation, but its test {name} lift ({lift.mean:+.4g}, {interval}) is "
            "not distinguishable from zero. Keep the baseline unless you have other reasons."
        )
    return {
        "test_lift": lift.mean,
        "test_lift_interval": [lift.low, lift.high],
        "probability_better": comparison.probability_better,
        "significant": bool(lift.low > 0 or lift.high < 0),
        **on_validation,
        "leader": {"trial_number": leader.trial.number, "loss": leader.loss},
        "summary": summary,
    }


def _validation_lift(winner: Finalist, baseline: Finalist, evaluator: Evaluator) -> float:
    sign = 1.0 if evaluator.metric.greater_is_better else -1.0
    ours, theirs = winner.validation_values(), baseline.validation_values()
    return sign * (float(np.mean(ours)) - float(np.mean(theirs)))


def environment(device_data: DeviceData) -> dict[str, str]:
    """Where the numbers were produced: versions of everything that shapes them, and the device."""
    packages = ("torch", "optuna", "scikit-learn", "numpy", "scipy", "pandas")
    versions = {name: _version(name) for name in packages}
    return {
        "loss-search": _version("loss-search"),
        "python": platform.python_version(),
        **versions,
        "device": str(device_data.device),
    }


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _threshold(logit: Threshold | None) -> dict[str, Any] | None:
    """The decision threshold on the logit and as a probability (one per label if multilabel)."""
    if logit is None:
        return None
    if isinstance(logit, tuple):
        return {"logit": list(logit), "probability": [float(expit(v)) for v in logit]}
    return {"logit": logit, "probability": float(expit(logit))}


def _counts(trials: list[FrozenTrial]) -> dict[str, int]:
    """Trials by state, in the vocabulary of every response (lost trials are not failures)."""
    records = records_of(trials, retried_trial_numbers(trials))
    return dict(Counter(record.state for record in records))
