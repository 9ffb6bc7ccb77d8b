"""A worker's Optuna storage waits out a database restart instead of failing the job.

Stock ``RDBStorage`` gives up at the first dropped connection; the worker's storage retries
with bounded backoff, so a PostgreSQL restart costs the search a pause, not the job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import optuna
import pytest
from optuna.exceptions import StorageInternalError
from optuna.storages import RDBStorage

from service.db.transient import is_transient
from tests.integration.servers import PrivatePostgres
from workers.engine.studies import make_storage
from workers.engine.write_batch import deferred_writes
from workers.storage import ResilientRDBStorage

pytestmark = pytest.mark.integration


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().create()
    yield server
    server.destroy()


def a_study(storage: RDBStorage) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, study_name="blips")
    trial = study.ask()
    study.tell(trial, 1.0)  # connections are now pooled, and die with the server
    return study


def test_a_call_made_while_the_database_restarts_completes_once_it_is_back(
    private_postgres: PrivatePostgres,
) -> None:
    study = a_study(make_storage(private_postgres.url, storage_class=ResilientRDBStorage))
    private_postgres.stop()
    asked: list[int] = []
    caller = threading.Thread(target=lambda: asked.append(study.ask().number))
    caller.start()
    time.sleep(3)
    assert caller.is_alive()  # waiting for the database, not failed
    assert not asked
    private_postgres.start()
    caller.join(timeout=40)
    assert asked == [1]
    trial = optuna.Trial(
        study, study._storage.get_trial_id_from_study_id_trial_number(study._study_id, 1)
    )
    study.tell(trial, 2.0)
    assert [t.value for t in study.get_trials()] == [1.0, 2.0]


def test_the_stock_storage_fails_at_once_during_the_same_outage(
    private_postgres: PrivatePostgres,
) -> None:
    study = a_study(make_storage(private_postgres.url))
    private_postgres.stop()
    with pytest.raises(StorageInternalError) as raised:
        study.ask()
    assert is_transient(raised.value)  # which is what the worker's storage retries on


def test_writes_held_back_while_the_database_restarts_land_once_it_is_back(
    private_postgres: PrivatePostgres,
) -> None:
    study = a_study(make_storage(private_postgres.url, storage_class=ResilientRDBStorage))
    trial = study.ask()
    private_postgres.stop()
    told: list[optuna.trial.FrozenTrial] = []

    def finish() -> None:
        with deferred_writes(study):
            trial.report(0.5, step=1)
        with deferred_writes(study):
            trial.set_user_attr("epochs_trained", 1)
            told.append(study.tell(trial, 0.7))

    caller = threading.Thread(target=finish)
    caller.start()
    time.sleep(3)
    assert caller.is_alive()  # waiting for the database, not failed
    assert not told
    private_postgres.start()
    caller.join(timeout=40)
    (frozen,) = told
    assert frozen.intermediate_values == {1: 0.5}
    assert frozen.user_attrs == {"epochs_trained": 1}
    assert frozen.value == 0.7
