"""Optuna's RDB storage that waits out database blips instead of failing the job.

Every storage call a worker makes (ask, report, tell, heartbeat, stale-trial checks) runs in
its own transaction; when PostgreSQL restarts, the call fails with a connection error and
Optuna gives up (``StorageInternalError``), which used to fail a job that had run for an hour.
Here each call is retried on transient errors (:mod:`service.db.transient`) with bounded
backoff; the connection pool's pre-ping replaces the dead connections.

Retrying is exact for reads and for writes that did not commit. If a commit went through and
only its acknowledgement was lost, the retry of "finish this trial" finds the trial finished:
that is recognised as success; a retried batch of held-back writes (upserts) writes the same
rows again. (A retried "create a trial" could then make a second one, which
is failed as stale after the grace period: a spare trial, never a lost one.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from service.db.transient import is_transient, retry_transient
from workers.batched_storage import BatchedRDBStorage
from workers.engine.optuna_adapter import RDB_TRANSACTION_METHODS
from workers.engine.write_batch import TrialWrites


def _retrying(method: Callable[..., Any]) -> Callable[..., Any]:
    return functools.wraps(method)(retry_transient()(method))


class ResilientRDBStorage(BatchedRDBStorage):
    """:class:`~workers.batched_storage.BatchedRDBStorage` whose calls survive a
    database restart."""

    def _set_state(
        self,
        trial_id: int,
        state: TrialState,
        values: Sequence[float] | None,
        pending: TrialWrites | None,
    ) -> bool:
        blinked = False

        @retry_transient()
        def attempt() -> bool:
            nonlocal blinked
            try:
                return BatchedRDBStorage._set_state(self, trial_id, state, values, pending)
            except UpdateFinishedTrialError:
                # The attempt before this one committed, then lost its connection.
                if blinked and state.is_finished() and self.get_trial(trial_id).state == state:
                    return True
                raise
            except Exception as error:
                blinked = blinked or is_transient(error)
                raise

        return attempt()


for _name in (*RDB_TRANSACTION_METHODS, *BatchedRDBStorage.TRANSACTION_METHODS):
    setattr(ResilientRDBStorage, _name, _retrying(getattr(BatchedRDBStorage, _name)))
