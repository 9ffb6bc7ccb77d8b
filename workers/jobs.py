"""The job lifecycle around the engine: lease a shard, run trials, finalize, record the end.

No ML happens here: this module reads and writes job and shard rows and drives
:class:`workers.engine.search.Search`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TypeVar

import torch
from optuna.trial import FrozenTrial
from sqlalchemy.orm import Session

from service.db import jobs as jobs_repo
from service.db import shards as shards_repo
from service.db import trials as trials_repo
from service.db.models import JobStatus
from service.db.session import session_scope
from service.db.transient import is_transient, retry_transient
from service.settings import Settings
from workers.engine.errors import EngineError
from workers.engine.metrics import get_metric
from workers.engine.search import Search, SearchContext
from workers.engine.spec import SearchSpec
from workers.engine.studies import make_storage
from workers.engine.trial_records import TrialRecord, record_of
from workers.storage import ResilientRDBStorage

logger = logging.getLogger(__name__)
T = TypeVar("T")


def worker_name() -> str:
    """Identifies this process in shard rows (host and pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def resolve_device(setting: str) -> torch.device:
    """CUDA when asked for or available (``auto``), else CPU."""
    if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


@retry_transient()
def in_transaction(url: str, work: Callable[[Session], T]) -> T:
    """Run ``work`` in a transaction, again in a fresh one if the database blinks."""
    with session_scope(url) as session:
        return work(session)


class JobBudget:
    """The job's trial budget and trial claims, shared by its shards through the database."""

    def __init__(self, url: str, job_id: str, worker: str) -> None:
        self._url, self._job_id, self._worker = url, job_id, worker

    def take(self) -> bool:
        return in_transaction(
            self._url, lambda s: shards_repo.take_trial_slot(session=s, job_id=self._job_id)
        )

    def give_back(self) -> None:
        in_transaction(
            self._url, lambda s: shards_repo.give_back_trial_slot(session=s, job_id=self._job_id)
        )

    def settle(self, used: int) -> None:
        in_transaction(
            self._url,
            lambda s: shards_repo.settle_trial_slots(session=s, job_id=self._job_id, used=used),
        )

    def claim(self, trial_number: int) -> bool:
        return in_transaction(
            self._url,
            lambda s: shards_repo.claim_trial(
                session=s, job_id=self._job_id, trial_number=trial_number, worker=self._worker
            ),
        )


class JobTrialLog:
    """The engine's trial log for a job: writes trial records and the job's progress.

    A database blip is retried for a few seconds; if it lasts longer the records are dropped
    with a warning, and the next full record of the study (at the end of every run) repairs
    them. Recording must never stop the search.
    """

    def __init__(self, url: str, job_id: str, maximize: bool) -> None:
        self._url, self._job_id, self._maximize = url, job_id, maximize

    def record(self, records: Sequence[TrialRecord]) -> None:
        try:
            in_transaction(
                self._url,
                lambda s: trials_repo.record_trials(
                    session=s, job_id=self._job_id, records=records, maximize=self._maximize
                ),
            )
        except Exception:
            logger.warning("could not record %d trials of %s", len(records), self._job_id)

    def record_lost(self, trial: FrozenTrial) -> None:
        """Record a trial failed because its worker died (it was queued again)."""
        self.record([record_of(trial, lost=True)])


class ShardHeartbeat:
    """Touches the shard row on a thread; notices cancels, lost leases and finished jobs."""

    def __init__(self, url: str, job_id: str, shard: int, worker: str, interval_s: float) -> None:
        self._url, self._job_id, self._shard, self._worker = url, job_id, shard, worker
        self._interval = interval_s
        self.cancelled = False
        self.lost = False
        self.job_finished = False
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"shard-heartbeat-{job_id}-{shard}", daemon=True
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


def run_shard(job_id: str, shard: int, settings: Settings) -> JobStatus | None:
    """Run one shard of a job. Returns the job's final status if this call set it, else None."""
    url = settings.resolved_database_url
    worker = worker_name()
    claim = in_transaction(
        url,
        lambda s: shards_repo.claim_shard(
            session=s,
            job_id=job_id,
            shard=shard,
            worker=worker,
            stale_after_s=settings.job_stale_after_s,
        ),
    )
    if claim is None:
        logger.info("shard %s/%d is done, held by a live worker, or its job ended", job_id, shard)
        return None
    spec = SearchSpec.from_dict(claim.spec)
    budget = JobBudget(url, job_id, worker)
    trial_log = JobTrialLog(url, job_id, get_metric(spec.metric.name).greater_is_better)

    def lost(trial: FrozenTrial) -> None:
        budget.give_back()
        trial_log.record_lost(trial)

    storage = make_storage(
        url,
        heartbeat_s=settings.trial_heartbeat_s,
        grace_s=settings.trial_grace_s,
        max_retry=settings.max_trial_retries,
        on_lost_trial=lost,
        storage_class=ResilientRDBStorage,
    )
    deadline = claim.started_at_timestamp + spec.timeout_s if spec.timeout_s else None
    logger.info("job %s shard %d/%d: running on %s", job_id, shard, claim.shards, worker)
    try:
        with ShardHeartbeat(url, job_id, shard, worker, settings.job_heartbeat_s) as heartbeat:
            context = SearchContext(
                storage=storage,
                study_name=claim.study_name,
                data_roots=settings.resolved_data_roots,
                device=resolve_device(settings.device),
                should_stop=heartbeat.should_stop,
                deadline=deadline,
                population_size=spec.population_size,
                max_population_size=settings.max_population_size,
                heartbeat_s=settings.trial_heartbeat_s,
                # With one shard, the shard's lease makes its worker the study's only writer.
                exclusive=claim.shards == 1,
                budget=budget,
                trial_log=trial_log,
            )
            return _run(Search.open(spec, context), heartbeat, url, job_id, shard, worker)
    except EngineError as exc:
        return _finish_job(url, job_id, JobStatus.FAILED, error=str(exc))
    except Exception as exc:
        if is_transient(exc):  # the database was out for longer than the retries wait
            logger.warning("job %s shard %d: database unreachable; shard goes back", job_id, shard)
            _release(url, job_id, shard, worker)
            return None
        logger.exception("job %s shard %d failed unexpectedly", job_id, shard)
        return _finish_job(
            url, job_id, JobStatus.FAILED, error=f"internal error: {type(exc).__name__}: {exc}"
        )
    finally:
        storage.remove_session()


def _run(
    search: Search, heartbeat: ShardHeartbeat, url: str, job_id: str, shard: int, worker: str
) -> JobStatus | None:
    stopped = search.run_trials()
    if stopped and heartbeat.lost:
        logger.warning("job %s shard %d: another worker took it over", job_id, shard)
        return None
    in_transaction(
        url,
        lambda s: shards_repo.finish_shard(session=s, job_id=job_id, shard=shard, worker=worker),
    )
    if stopped and heartbeat.cancelled:
        return _finish_job(url, job_id, JobStatus.CANCELLED)
    if stopped:
        return None  # the job ended elsewhere (another shard failed it)
    won = in_transaction(
        url,
        lambda s: shards_repo.claim_finalization(
            session=s, job_id=job_id, shard=shard, worker=worker
        ),
    )
    if not won:
        logger.info("job %s shard %d: done; another shard will finalize", job_id, shard)
        return None
    finalizer = (shard, worker)
    if search.run_missing_trials():  # stopped: cancelled, the lease lost, or the job ended
        if heartbeat.cancelled and not heartbeat.lost:
            return _finish_job(url, job_id, JobStatus.CANCELLED, finalizer=finalizer)
        return None
    try:
        result = search.finalize()
    except EngineError as exc:  # e.g. no completed trial
        return _finish_job(url, job_id, JobStatus.FAILED, error=str(exc), finalizer=finalizer)
    return _finish_job(url, job_id, JobStatus.SUCCEEDED, result=result, finalizer=finalizer)


def _finish_job(
    url: str,
    job_id: str,
    status: JobStatus,
    result: dict[str, object] | None = None,
    error: str | None = None,
    finalizer: tuple[int, str] | None = None,
) -> JobStatus | None:
    """End the job; the finalizing shard, if given, is marked done in the same transaction.

    One transaction, so that no reader ever sees a finished job with its finalizer still running.
    A job asked to cancel ends cancelled whatever ``status`` says (see ``jobs_repo.finish_job``).
    """

    def finish(session: Session) -> JobStatus | None:
        ended = jobs_repo.finish_job(
            session=session, job_id=job_id, status=status, result=result, error=error
        )
        if finalizer is not None:
            shard, worker = finalizer
            shards_repo.finish_shard(session=session, job_id=job_id, shard=shard, worker=worker)
        return ended

    ended = in_transaction(url, finish)
    if ended is None:
        return None
    logger.info("job %s: %s%s", job_id, ended.value, f" ({error})" if error else "")
    return ended


def _release(url: str, job_id: str, shard: int, worker: str) -> None:
    try:
        in_transaction(
            url,
            lambda s: shards_repo.release_shard(
                session=s, job_id=job_id, shard=shard, worker=worker
            ),
        )
    except Exception:  # still down: the shard's heartbeat goes stale and the sweeper requeues it
        logger.warning("could not give back job %s shard %d", job_id, shard, exc_info=True)
