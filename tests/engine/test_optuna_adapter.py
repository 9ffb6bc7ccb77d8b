"""The contract between the engine and the installed Optuna: what ``optuna_adapter`` relies on
beyond Optuna's public API still holds. A failure here after an Optuna upgrade names the
internal that moved; ``pyproject.toml`` pins Optuna to the versions this file has passed on."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.storages import RDBStorage
from optuna.study import StudyDirection
from optuna.trial import TrialState

from workers.engine.optuna_adapter import (
    IN_MEMORY_STORAGE_LOGGER,
    RDB_TRANSACTION_METHODS,
    History,
    should_prune,
    storage_of,
    study_id_of,
    trial_by_id,
    trial_id_of,
)


def _sqlite_study(tmp_path: Path, storage: RDBStorage | None = None) -> optuna.Study:
    storage = storage or RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")
    return optuna.create_study(storage=storage, study_name="contract")


def test_the_storage_and_ids_behind_a_study_and_its_trials(tmp_path: Path) -> None:
    study = _sqlite_study(tmp_path)
    trial = study.ask()
    storage = storage_of(study)
    assert isinstance(storage, optuna.storages.BaseStorage)
    assert study_id_of(study) == storage.get_study_id_from_name("contract")
    assert storage.get_trial(trial_id_of(trial)).number == trial.number
    [frozen] = storage.get_all_trials(study_id_of(study))
    assert trial_id_of(frozen) == trial_id_of(trial)


def test_a_trial_made_from_an_id_sees_parameters_written_to_the_storage(tmp_path: Path) -> None:
    study = _sqlite_study(tmp_path)
    trial = study.ask()
    distribution = FloatDistribution(1e-4, 1e-1, log=True)
    storage_of(study).set_trial_param(trial_id_of(trial), "lr", 0.01, distribution)
    again = trial_by_id(study, trial_id_of(trial))
    assert again.suggest_float("lr", 1e-4, 1e-1, log=True) == 0.01


def _history_study(
    pruner: optuna.pruners.BasePruner,
    direction: StudyDirection,
    completed: list[dict[int, float]],
) -> optuna.Study:
    study = optuna.create_study(direction=direction, pruner=pruner)
    for values in completed:
        trial = study.ask()
        for step, value in values.items():
            trial.report(value, step)
        study.tell(trial, values[max(values)])
    return study


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
@pytest.mark.parametrize(
    "pruner",
    [
        optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
        optuna.pruners.PercentilePruner(25.0, n_startup_trials=2, n_warmup_steps=0),
    ],
    ids=["median", "percentile"],
)
@pytest.mark.parametrize("mine", [0.2, 0.5, 0.9])
def test_a_pruner_judges_a_member_as_it_judges_the_same_trial_in_a_study(
    direction: str, pruner: optuna.pruners.BasePruner, mine: float
) -> None:
    completed = [{0: 0.3, 1: 0.4, 2: 0.6}, {0: 0.5, 1: 0.55, 2: 0.7}, {0: 0.4, 1: 0.45, 2: 0.5}]
    study = _history_study(pruner, StudyDirection[direction.upper()], completed)
    trial = study.ask()
    values = {0: mine - 0.1, 1: mine, 2: mine}
    for step, value in values.items():
        trial.report(value, step)
    peers = [History(values) for values in completed]
    judged = should_prune(pruner, StudyDirection[direction.upper()], peers, values, step=2)
    assert judged == trial.should_prune()


def test_every_retried_storage_method_exists_and_carries_the_public_calls(
    tmp_path: Path,
) -> None:
    calls: Counter[str] = Counter()

    def counted(name: str) -> Callable[..., Any]:
        method = getattr(RDBStorage, name)

        def call(self: RDBStorage, *args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return method(self, *args, **kwargs)

        return call

    for name in RDB_TRANSACTION_METHODS:
        assert callable(getattr(RDBStorage, name, None)), f"RDBStorage.{name} is gone"
    counting = type(
        "CountingStorage", (RDBStorage,), {n: counted(n) for n in RDB_TRANSACTION_METHODS}
    )
    storage = counting(
        f"sqlite:///{tmp_path / 'optuna.db'}", heartbeat_interval=60, grace_period=120
    )
    study = _sqlite_study(tmp_path, storage)
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    trial.report(0.5, 0)
    trial.set_user_attr("loss", "focal")
    study.tell(trial, 0.5)
    assert study.best_trial.number == 0
    assert len(study.trials) == 1
    optuna.storages.fail_stale_trials(study)
    # The private methods are where Optuna's public calls go: retrying them retries those.
    for private in ("_create_new_trial", "_set_trial_param", "_get_trials", "_get_best_trial_id"):
        assert calls[private] > 0, f"no public call reached RDBStorage.{private}"
    assert calls["_get_stale_trial_ids"] > 0


def test_the_in_memory_storage_announces_studies_on_the_named_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger=IN_MEMORY_STORAGE_LOGGER):
        optuna.create_study()
    assert any(record.name == IN_MEMORY_STORAGE_LOGGER for record in caplog.records)


def test_only_trials_of_these_states_are_finished() -> None:
    # The engine's bookkeeping counts these three as ended; a new state would need a decision.
    finished = {state for state in TrialState if state.is_finished()}
    assert finished == {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL}
