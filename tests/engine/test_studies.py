"""Study bookkeeping: lost trials are failed, re-queued with their parameters, and not counted."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.trial import TrialState

from workers.engine.studies import (
    fail_orphaned_trials,
    make_storage,
    retried_trial_numbers,
    trials_used,
)


def test_orphaned_running_trials_are_failed_and_requeued_with_their_parameters(
    tmp_path: Path,
) -> None:
    storage = make_storage(f"sqlite:///{tmp_path / 'studies.db'}", heartbeat_s=1, grace_s=4)
    study = optuna.create_study(storage=storage, study_name="orphans")
    done = study.ask()
    done.suggest_float("x", 0.0, 1.0)
    study.tell(done, 0.5)
    orphan = study.ask()
    x = orphan.suggest_float("x", 0.0, 1.0)
    orphan.set_user_attr("seed", 7)

    assert fail_orphaned_trials(study) == 1

    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.WAITING]
    retry = trials[2]
    assert retry.params == {"x": x}
    assert retry.user_attrs["seed"] == 7  # the retry reproduces the lost trial exactly
    assert retried_trial_numbers(trials) == {1}
    assert trials_used(trials) == 1  # the lost trial does not count against the budget
    assert fail_orphaned_trials(study) == 0
