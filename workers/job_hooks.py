"""The engine's hooks for one shard, backed by the job's rows: the shared trial budget, the
trial log that keeps the API's read model current, and the lease heartbeat that tells the
search to stop (cancel requested, lease lost, job ended)."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Sequence
from types import TracebackType

from optuna.trial import FrozenTrial
from sqlalchemy.orm import Session

from service.db import shards as shards_repo
from service.db import trial_ledger
from service.db import trials as trials_repo
from service.db.session import session_scope
from service.db.transient import in_transaction
from service.metrics import TRIAL_SECONDS
from service.webhooks import outbox
from workers.engine.trial_records import TrialRecord, record_of

logger = logging.getLogger(__name__)


class JobBudget:
    """The job's trial budget and trial claims, shared by its shards through the database."""

    def __init__(self, url: str, job_id: str, worker: str) -> None:
        self._url, self._job_id, self._worker = url, job_id, worker

    def take(self) -> bool:
        return in_transaction(
            self._url, lambda s: trial_ledger.take_trial_slot(session=s, job_id=self._job_id)
        )

    def give_back(self) -> None:
        in_transaction(
            self._url, lambda s: trial_ledger.give_back_trial_slot(session=s, job_id=self._job_id)
        )

    def settle(self, used: int) -> None:
        in_transaction(
            self._url,
            lambda s: trial_ledger.settle_trial_slots(session=s, job_id=self._job_id, used=used),
        )

    def claim(self, trial_number: int) -> bool:
        return in_transaction(
            self._url,
            lambda s: trial_ledger.claim_trial(
                session=s, job_id=self._job_id, trial_number=trial_number, worker=self._worker
            ),
        )


class JobTrialLog:
    """The engine's trial log for a job: writes trial records and the job's progress.

    A database blip is retried for a few seconds; if it lasts longer the records are dropped
    with a warning, and the next full record of the study (at the end of every run) repairs
    them. Recording must never stop the search.
    """

    def __init__(
        self, url: str, job_id: str, maximize: bool, *, progress_every_s: float = 30.0
    ) -> None:
        self._url, self._job_id, self._maximize = url, job_id, maximize
        self._progress_every_s = progress_every_s

    def record(self, records: Sequence[TrialRecord], *, repair: bool = False) -> None:
        if not repair:  # a repair repeats trials already counted (by this or another worker)
            observe_finished(records)

        def write(session: Session) -> None:
            if trials_repo.record_trials(
                session=session, job_id=self._job_id, records=records, maximize=self._maximize
            ) and any(record.finished for record in records):
                outbox.job_progressed(session, self._job_id, self._progress_every_s)

        try:
            in_transaction(self._url, write)
        except Exception:
            logger.warning("could not record %d trials of %s", len(records), self._job_id)

    def record_lost(self, trial: FrozenTrial) -> None:
        """Record a trial failed because its worker died (it was queued again)."""
        self.record([record_of(trial, lost=True)])


def observe_finished(records: Sequence[TrialRecord]) -> None:
    """Count the trials among ``records`` that have just finished, with their duration."""
    for record in records:
        if record.finished and record.started_at and record.finished_at:
            seconds = (record.finished_at - record.started_at).total_seconds()
            TRIAL_SECONDS.labels(record.state).observe(max(0.0, seconds))


class ShardHeartbeat:
    """Touches the shard row on a thread; notices cancels, lost leases and finished jobs."""

    def __init__(self, url: str, job_id: str, shard: int, worker: str, interval_s: float) -> None:
        self._url, self._job_id, self._shard, self._worker = url, job_id, shard, worker
        self._interval = interval_s
        self.cancelled = False
        self.lost = False
        self.job_finished = False
        self._done = threading.Event()
        # Run in a copy of the starter's context: its lines carry the job's log fields.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run,
            args=(self._run,),
            name=f"shard-heartbeat-{job_id}-{shard}",
            daemon=True,
        )

    def should_stop(self) -> bool:
        """True once a cancel was requested, the lease was lost or the job ended elsewhere."""
        return self.cancelled or self.lost or self.job_finished

    def __enter__(self) -> ShardHeartbeat:
        self._beat()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self._interval):
            self._beat()

    def _beat(self) -> None:
        try:
            with session_scope(self._url) as session:
                lease = shards_repo.touch_shard(
                    session=session, job_id=self._job_id, shard=self._shard, worker=self._worker
                )
            self.cancelled = lease.cancel_requested
            self.lost = not lease.still_owner
            self.job_finished = lease.job_finished
        except Exception:  # a database hiccup must not kill the search; the next beat retries
            logger.warning("heartbeat failed for %s/%d", self._job_id, self._shard, exc_info=True)
