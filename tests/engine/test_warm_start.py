"""Warm start in the engine: which earlier setups are queued after the baseline, under the
search space's own parameter names, and why the others are not."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from workers.engine.space import SearchSpace, enqueue_baseline
from workers.engine.spec import Family, Task
from workers.engine.warm_start import (
    BASELINE,
    DUPLICATE,
    NO_ROOM,
    NOT_RUN,
    WarmSetup,
    enqueue_warm_starts,
    warm_start_report,
)

SPACE = SearchSpace.build(
    Task.BINARY, "f1", (Family.PROXY,), overrides={"symmetric_ce": {"beta": 0.5}}
)


def planned(setups: list[WarmSetup], n_trials: int) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    rates = enqueue_baseline(study, SPACE, n_trials)
    enqueue_warm_starts(study, SPACE, setups, n_trials - len(rates), rates)
    return study


def test_setups_are_queued_after_the_baseline_or_skipped_with_a_reason() -> None:
    hinge = WarmSetup("job-a", "hinge", {"margin": 2.0}, 0.003)
    setups = [
        hinge,
        WarmSetup("job-b", "cross_entropy", {}, 0.001),  # the baseline itself
        WarmSetup("job-c", "hinge", {"margin": 2.0}, 0.003),  # the same as job-a's
        WarmSetup("job-d", "huber", {}, 0.001),  # not a loss of this job
        WarmSetup("job-e", "hinge", {"margin": 9.0}, 0.001),  # out of range
        WarmSetup("job-f", "symmetric_ce", {"alpha": 0.1, "beta": 0.9}, 0.001),  # beta is fixed
        WarmSetup("job-g", "hinge", {"margin": 1.0}, 0.5),  # learning rate out of range
        WarmSetup("job-h", "hinge", {}, 0.001),  # no margin
        WarmSetup("job-i", "cross_entropy", {}, 0.002),
        WarmSetup("job-j", "generalized_ce", {"q": 0.5}, 0.001),  # no room left
    ]
    study = planned(setups, n_trials=3)
    trials = study.get_trials(deepcopy=False)
    assert [t.user_attrs["arm"] for t in trials] == ["baseline", "warm_start", "warm_start"]
    assert trials[1].user_attrs["warm_start_from"] == "job-a"
    assert trials[1].system_attrs["fixed_params"] == {
        "family": "proxy",
        "proxy.loss": "hinge",
        "hinge.margin": 2.0,
        "learning_rate": 0.003,
    }
    assert trials[2].system_attrs["fixed_params"]["learning_rate"] == 0.002

    # The space reads each queued trial back as the setup it was given, under its arm.
    trial = study.ask()  # the baseline
    study.tell(trial, 0.5)
    config = SPACE.suggest(study.ask())
    assert (config.arm, config.warm_start_from) == ("warm_start", "job-a")
    assert (config.loss, config.loss_params, config.learning_rate) == (
        "hinge",
        {"margin": 2.0},
        0.003,
    )
    assert config.as_attrs()["warm_start_from"] == "job-a"

    report = {entry.from_job: entry for entry in warm_start_report(study)}
    assert [entry.from_job for entry in warm_start_report(study)] == [s.from_job for s in setups]
    assert report["job-a"].used
    assert report["job-a"].trial_number == 1
    assert report["job-i"].reason == NOT_RUN  # queued, still waiting
    assert not report["job-i"].used
    assert report["job-b"].reason == BASELINE
    assert report["job-c"].reason == DUPLICATE
    assert report["job-d"].reason == "loss 'huber' is not searched by this job"
    assert report["job-e"].reason == "hinge.margin = 9.0 is outside this job's [0.25, 4.0]"
    assert report["job-f"].reason == "symmetric_ce.beta = 0.9 is outside this job's 0.5"
    assert report["job-g"].reason == "learning_rate = 0.5 is outside this job's [0.0001, 0.03]"
    assert report["job-h"].reason == "the setup gives no value for hinge.margin"
    assert report["job-j"].reason == NO_ROOM


def test_a_warm_start_trial_lost_with_its_worker_is_reported_by_its_rerun() -> None:
    study = planned([WarmSetup("job-a", "hinge", {"margin": 2.0}, 0.003)], n_trials=3)
    study.tell(study.ask(), 0.5)
    lost = study.ask()
    study.tell(lost, state=TrialState.FAIL)
    fixed = study.get_trials(deepcopy=False)[lost.number].system_attrs["fixed_params"]
    study.enqueue_trial(fixed, user_attrs=lost.user_attrs, skip_if_exists=False)
    rerun = study.ask()
    study.tell(rerun, 0.6)
    (entry,) = warm_start_report(study)
    assert entry.trial_number == rerun.number
    assert entry.used


def test_without_setups_the_study_has_no_plan() -> None:
    study = planned([], n_trials=3)
    assert warm_start_report(study) == []
    assert "warm_start" not in study.user_attrs
