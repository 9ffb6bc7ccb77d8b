"""Reports to Optuna: a round of evaluations is judged exactly as Optuna's own pruner would."""

from __future__ import annotations

from typing import Literal

import optuna
import pytest
from optuna.trial import TrialState

from workers.engine.evaluation import Score
from workers.engine.reporting import OptunaMonitor, abandon, tell
from workers.engine.training import MemberResult, Outcome


def study_with_history(direction: Literal["maximize", "minimize"]) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction=direction,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    for curve in ([0.2, 0.4, 0.6], [0.3, 0.5, 0.7], [0.1, 0.2, 0.3]):
        trial = study.ask()
        for step, value in enumerate(curve, start=1):
            trial.report(value, step)
        study.tell(trial, curve[-1])
    return study


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_one_member_at_a_time_is_judged_exactly_as_by_optuna(
    direction: Literal["maximize", "minimize"],
) -> None:
    ours = study_with_history(direction)
    reference = study_with_history(direction)
    for curve in ([0.05, 0.1, 0.9], [0.5, 0.6, 0.65], [0.25, 0.35, 0.45]):
        our_trial, their_trial = ours.ask(), reference.ask()
        monitor = OptunaMonitor(ours, {"m": our_trial})
        for step, value in enumerate(curve, start=1):
            decided = monitor.report([("m", step, value)])
            their_trial.report(value, step)
            assert ("m" in decided) == their_trial.should_prune(), (curve, step)
        ours.tell(our_trial, curve[-1])
        reference.tell(their_trial, curve[-1])
        monitor.forget("m", completed=True)


def test_members_of_a_population_are_also_judged_against_each_other() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    )
    curves = {key: [value] for key, value in zip("abcd", [0.9, 0.8, 0.2, 0.1], strict=True)}
    trials = {key: study.ask() for key in curves}
    monitor = OptunaMonitor(study, trials)
    # No trial has completed, yet the two weakest of four peers are stopped.
    assert monitor.report([(key, 1, curve[0]) for key, curve in curves.items()]) == {"c", "d"}


def test_a_trial_ended_elsewhere_is_pruned() -> None:
    study = study_with_history("maximize")
    trial = study.ask()
    study.tell(trial, state=TrialState.FAIL)
    assert OptunaMonitor(study, {"x": trial}).report([("x", 1, 0.5)]) == {"x"}


def test_results_end_trials_in_the_matching_state() -> None:
    study = study_with_history("maximize")
    complete, pruned, failed, cancelled = (study.ask() for _ in range(4))
    tell(study, complete, MemberResult(Outcome.COMPLETE, Score(0.9, 0.3), 4, 8))
    tell(study, pruned, MemberResult(Outcome.PRUNED, Score(0.1), 2, 2))
    tell(study, failed, MemberResult(Outcome.FAILED, epochs_trained=1, reason="diverged: NaN"))
    abandon(study, cancelled, "the job was cancelled before this trial finished")
    frozen = {t.number: t for t in study.trials}
    assert frozen[complete.number].state is TrialState.COMPLETE
    assert frozen[complete.number].value == 0.9
    assert frozen[complete.number].user_attrs["threshold"] == 0.3
    assert frozen[pruned.number].state is TrialState.PRUNED
    assert frozen[failed.number].state is TrialState.FAIL
    assert frozen[failed.number].user_attrs["failure_reason"] == "diverged: NaN"
    assert frozen[cancelled.number].user_attrs["failure_reason"].startswith("the job was cancelled")
