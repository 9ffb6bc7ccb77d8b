"""The workers' Optuna storage lands a trial's writes in few transactions, and loses nothing.

Inside ``deferred_writes`` the storage holds parameters, attributes and intermediate values back
and writes them in one transaction at the end of the block, or with the trial's end when it is
told inside the block. Outside a block it is Optuna's RDB storage. Runs on SQLite and on the
machine's PostgreSQL (skipped when unreachable, unless ``LOSS_SEARCH_REQUIRE_SERVICES`` is set).
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.storages import RDBStorage
from optuna.trial import TrialState
from sqlalchemy import event

from tests.databases import KINDS, empty_database
from workers.engine.search import Search
from workers.engine.search_context import SearchContext
from workers.engine.spec import Budget, Family, JobSpec, MetricRef, Parallelism, Task
from workers.engine.studies import make_storage
from workers.engine.write_batch import deferred_writes
from workers.storage import ResilientRDBStorage


@pytest.fixture(params=KINDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with empty_database(request.param, tmp_path, "loss_search_batched") as database:
        yield database


class Commits:
    """Counts the commits the storage's engine makes."""

    def __init__(self, storage: ResilientRDBStorage) -> None:
        self.count = 0
        event.listen(storage.engine, "commit", self._commit)

    def _commit(self, _: Any) -> None:
        self.count += 1


@pytest.fixture
def storage(url: str) -> Iterator[ResilientRDBStorage]:
    store = ResilientRDBStorage(url)
    yield store
    store.engine.dispose()


def study_on(storage: ResilientRDBStorage) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(storage=storage, study_name=f"s{uuid.uuid4().hex[:6]}")


def fresh_view(url: str, study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's trials as another process sees them."""
    other = ResilientRDBStorage(url)
    try:
        return optuna.load_study(study_name=study.study_name, storage=other).get_trials()
    finally:
        other.engine.dispose()


def test_writes_in_a_block_land_together_when_it_ends(
    storage: ResilientRDBStorage, url: str
) -> None:
    study = study_on(storage)
    trials = [study.ask() for _ in range(3)]
    commits = Commits(storage)
    with deferred_writes(study):
        for trial in trials:
            trial.suggest_float("lr", 1e-4, 1e-1, log=True)
            trial.set_user_attr("loss", "focal")
            trial.report(0.5, step=1)
            trial.report(0.6, step=2)
        assert all(not t.params and not t.user_attrs for t in fresh_view(url, study))
    assert commits.count <= 2  # the block's one transaction, and the sampler's reads at most
    seen = fresh_view(url, study)
    assert [t.user_attrs for t in seen] == [{"loss": "focal"}] * 3
    assert [t.intermediate_values for t in seen] == [{1: 0.5, 2: 0.6}] * 3
    assert [t.params["lr"] for t in seen] == [t.params["lr"] for t in trials]


def test_a_trial_told_in_a_block_is_whole_when_tell_returns(
    storage: ResilientRDBStorage, url: str
) -> None:
    study = study_on(storage)
    trial = study.ask()
    with deferred_writes(study):
        trial.set_user_attr("epochs_trained", 12)
        trial.set_user_attr("threshold", 0.3)
        frozen = study.tell(trial, 0.81)
        (seen,) = fresh_view(url, study)
        assert seen.state == TrialState.COMPLETE
        assert seen.value == 0.81
        assert seen.user_attrs == {"epochs_trained": 12, "threshold": 0.3}
    assert frozen.user_attrs == {"epochs_trained": 12, "threshold": 0.3}


def test_a_pruned_trial_keeps_its_last_reported_value(storage: ResilientRDBStorage) -> None:
    study = study_on(storage)
    trial = study.ask()
    with deferred_writes(study):
        trial.report(0.4, step=3)
    with deferred_writes(study):
        trial.set_user_attr("epochs_trained", 3)
        frozen = study.tell(trial, state=TrialState.PRUNED)
    assert frozen.value == 0.4
    assert frozen.user_attrs == {"epochs_trained": 3}


def test_writes_to_a_trial_ended_elsewhere_are_dropped_and_named(
    storage: ResilientRDBStorage, url: str
) -> None:
    study = study_on(storage)
    lost, alive = study.ask(), study.ask()
    with deferred_writes(study) as batch:
        lost.report(0.1, step=1)
        alive.report(0.2, step=1)
        # Another worker declares the first trial lost before the block ends.
        other = ResilientRDBStorage(url)
        other.set_trial_state_values(lost._trial_id, TrialState.FAIL)
        other.engine.dispose()
    assert batch.finished == {lost._trial_id}
    by_number = {t.number: t for t in fresh_view(url, study)}
    assert by_number[lost.number].intermediate_values == {}
    assert by_number[alive.number].intermediate_values == {1: 0.2}


def test_a_block_that_raises_writes_nothing(storage: ResilientRDBStorage, url: str) -> None:
    study = study_on(storage)
    trial = study.ask()

    def fail_in_a_block() -> None:
        with deferred_writes(study):
            trial.set_user_attr("loss", "focal")
            raise RuntimeError("training failed")

    with pytest.raises(RuntimeError):
        fail_in_a_block()
    assert fresh_view(url, study)[0].user_attrs == {}


def test_a_parameter_that_contradicts_the_study_is_refused(storage: ResilientRDBStorage) -> None:
    study = study_on(storage)
    first = study.ask()
    first.suggest_float("lr", 1e-4, 1e-1, log=True)
    study.tell(first, 1.0)
    # A fresh process (no cached distribution) holding back an incompatible one.
    other = ResilientRDBStorage(storage.url)
    again = optuna.load_study(study_name=study.study_name, storage=other)
    trial = again.ask()
    with pytest.raises(ValueError, match="different distribution"), deferred_writes(again):
        trial.suggest_categorical("lr", [0.5, 1.0])
    assert other.get_trial(trial._trial_id).params == {}
    other.engine.dispose()


def test_outside_a_block_every_write_is_its_own_transaction(
    storage: ResilientRDBStorage, url: str
) -> None:
    study = study_on(storage)
    trial = study.ask()
    commits = Commits(storage)
    trial.set_user_attr("a", 1)
    trial.set_user_attr("b", 2)
    storage.set_trial_param(trial._trial_id, "x", 0.5, FloatDistribution(0, 1))
    assert commits.count >= 3
    assert fresh_view(url, study)[0].user_attrs == {"a": 1, "b": 2}


def test_a_pickled_storage_still_holds_writes_back(storage: ResilientRDBStorage) -> None:
    copy = pickle.loads(pickle.dumps(storage))
    study = study_on(copy)
    trial = study.ask()
    with deferred_writes(study):
        trial.set_user_attr("a", 1)
    assert study.trials[0].user_attrs == {"a": 1}
    copy.engine.dispose()


def test_a_search_stores_the_same_trials_as_on_optunas_own_storage(tmp_path: Path) -> None:
    spec = JobSpec(
        dataset="builtin:breast_cancer",
        task=Task.BINARY,
        metric=MetricRef(name="f1"),
        budget=Budget(n_trials=10),
        families=list(Family),
        seed=3,
        parallelism=Parallelism(population_size=4),
    )

    def stored(storage_class: type[RDBStorage]) -> list[tuple[Any, ...]]:
        storage = make_storage(
            f"sqlite:///{tmp_path / f'{storage_class.__name__}.db'}", storage_class=storage_class
        )
        context = SearchContext(storage=storage, study_name="job", data_roots=[])
        assert not Search.open(spec, context).run_trials()
        trials = optuna.load_study(study_name="job", storage=storage).get_trials()
        storage.engine.dispose()
        return [
            (t.number, t.state, t.params, t.user_attrs, t.value, t.intermediate_values)
            for t in trials
        ]

    assert stored(ResilientRDBStorage) == stored(RDBStorage)
