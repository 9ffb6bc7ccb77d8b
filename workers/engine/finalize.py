"""After the search: confirm the finalists on fresh seeds, pick the winner, compare with baseline.

The leader is the finalist with the best mean validation metric over the confirmation seeds (see
:mod:`workers.engine.confirmation`). It becomes the winner only if it passes the gate
(:mod:`workers.engine.gate`): a paired bootstrap, cross-fitted over the training rows, that puts
its lift over the baseline reliably above zero; otherwise the baseline is returned. Only then are
the winner and the baseline scored on the test split, with each confirmation run's threshold
chosen on validation, and compared with a paired bootstrap (:mod:`workers.engine.statistics`).
Nothing on the test split feeds back into any choice.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

import optuna
from optuna.trial import FrozenTrial, TrialState

from workers.engine.confirmation import (
    ConfirmationPlan,
    Finalist,
    choose_winner,
    config_of,
    confirmation_seeds,
    link_of,
    run_confirmation,
)
from workers.engine.environment import environment
from workers.engine.errors import NoCompletedTrials
from workers.engine.evaluation import Evaluator
from workers.engine.gate import run_gate
from workers.engine.guardrails import guardrails
from workers.engine.losses import baseline_loss
from workers.engine.networks import network_shape
from workers.engine.param_values import as_json
from workers.engine.results import (
    Confirmation,
    DatasetSummary,
    Guardrail,
    MetricResult,
    Network,
    SearchResult,
)
from workers.engine.setups import SetupDescriber, plan_result
from workers.engine.space import SearchSpace
from workers.engine.statistics import PairedComparison, paired_bootstrap
from workers.engine.studies import failure_summary, retried_trial_numbers
from workers.engine.training import DeviceData
from workers.engine.training_plan import TrainingPlan
from workers.engine.trial_records import records_of
from workers.engine.verdict import compare_with_baseline


def finalize(
    study: optuna.Study,
    space: SearchSpace,
    evaluator: Evaluator,
    device_data: DeviceData,
    plan: TrainingPlan,
    job_seed: int,
    confirmation: ConfirmationPlan | None = None,
) -> SearchResult:
    """The job's result: winner, baseline, their metrics with intervals, and the lift."""
    confirmation = confirmation or ConfirmationPlan()
    trials = study.get_trials(deepcopy=False)
    finalists, baseline = _finalists(_complete(trials), space, evaluator, confirmation.top_k)
    seeds = confirmation_seeds(job_seed, confirmation.seeds)
    run_confirmation(finalists, evaluator, device_data, plan, seeds)
    leader = _leader(finalists, evaluator)
    winner, on_validation, gate = leader, None, None
    if baseline is not None and baseline.completed and leader is not baseline:
        on_validation = _compare(
            leader, baseline, evaluator, device_data, confirmation, job_seed, "val"
        )
        gate = run_gate(
            leader, baseline, on_validation, evaluator, device_data, plan, confirmation, job_seed
        )
        if not gate.passed:
            winner = baseline
    # With no usable baseline the winner is compared with itself: that still gives its interval.
    reference = baseline if baseline is not None and baseline.completed else winner
    comparison = _compare(winner, reference, evaluator, device_data, confirmation, job_seed, "test")
    verdict = compare_with_baseline(
        winner, baseline, comparison, evaluator, leader, on_validation, gate
    )
    checks = _guardrails(winner, baseline, evaluator, confirmation, job_seed)
    describe = SetupDescriber(evaluator, device_data, plan, confirmation.resamples, job_seed)
    data = device_data.data
    return SearchResult(
        metric=MetricResult(
            name=evaluator.metric.name,
            params=as_json(evaluator.params),
            direction=evaluator.metric.direction.value,
        ),
        best=describe.setup(winner, comparison.winner),
        baseline=None
        if baseline is None
        else describe.setup(baseline, comparison.baseline if reference is baseline else None),
        comparison=verdict.model_copy(update={"guardrails": checks}),
        confirmation=Confirmation(
            top_k=confirmation.top_k,
            seeds=len(seeds),
            folds=confirmation.cross_fit.folds,
            seeds_per_fold=confirmation.cross_fit.seeds_per_fold,
            bootstrap_resamples=confirmation.resamples,
            finalists=[describe.finalist(f, f is winner) for f in finalists],
            leader_trial_number=leader.trial.number,
        ),
        network=Network.model_validate(network_shape(data.n_features, data.n_outputs).describe()),
        dataset=DatasetSummary.model_validate(data.summary),
        search_space=space.describe(),
        training=plan_result(plan),
        trial_counts=_counts(trials),
        environment=environment(device_data),
    )


def _guardrails(
    winner: Finalist,
    baseline: Finalist | None,
    evaluator: Evaluator,
    confirmation: ConfirmationPlan,
    job_seed: int,
) -> list[Guardrail]:
    if baseline is None or not baseline.completed:
        return []
    return guardrails(winner, baseline, evaluator, confirmation.resamples, job_seed)


def _complete(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The completed trials; :class:`NoCompletedTrials` says why there are none."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not complete:
        raise NoCompletedTrials(
            failure_summary([t for t in trials if t.state != TrialState.WAITING])
        )
    return complete


def _leader(finalists: list[Finalist], evaluator: Evaluator) -> Finalist:
    """The finalist with the best mean validation metric over the confirmation seeds."""
    try:
        return choose_winner(finalists, evaluator)
    except ValueError:
        raise NoCompletedTrials(
            "every finalist failed when retrained on fresh seeds: the search's results do not "
            "reproduce"
        ) from None


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
                run.result.score.temperature,
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


def _counts(trials: list[FrozenTrial]) -> dict[str, int]:
    """Trials by state, in the vocabulary of every response (lost trials are not failures)."""
    records = records_of(trials, retried_trial_numbers(trials))
    return dict(Counter(record.state for record in records))
