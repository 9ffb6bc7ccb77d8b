"""The job lifecycle around the engine: lease a shard, run trials, finalize, record the end.

No ML happens here: this module reads and writes job and shard rows and drives
:class:`workers.engine.search.Search`.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any, TypeVar

import torch
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial
from sqlalchemy.orm import Session

from service.db import jobs as jobs_repo
from service.db import shards as shards_repo
from service.db import warm_start as warm_repo
from service.db.models import JobStatus
from service.db.shards import ShardClaim
from service.db.transient import in_transaction, is_transient
from service.logs import job_context
from service.metrics import POPULATION_SIZE
from service.settings import Settings
from service.webhooks import outbox
from workers.datasets import LocalData, local_data, with_source
from workers.engine.errors import EngineError
from workers.engine.metrics import get_metric
from workers.engine.search import Search
from workers.engine.search_context import SearchContext
from workers.engine.spec import JobSpec, WarmStart
from workers.engine.studies import make_storage
from workers.engine.warm_start import WarmSetup
from workers.job_hooks import JobBudget, JobTrialLog, ShardHeartbeat
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


def run_shard(job_id: str, shard: int, settings: Settings) -> JobStatus | None:
    """Run one shard of a job. Returns the job's final status if this call set it, else None.

    Every line logged meanwhile carries the job's id and shard (and, once claimed, tenant).
    """
    with job_context(job_id, shard=shard):
        return _claim_and_run(job_id, shard, settings)


def _claim_and_run(job_id: str, shard: int, settings: Settings) -> JobStatus | None:
    url = settings.resolved_database_url
    worker = worker_name()

    def claim_it(session: Session) -> ShardClaim | None:
        claim = shards_repo.claim_shard(
            session=session,
            job_id=job_id,
            shard=shard,
            worker=worker,
            stale_after_s=settings.job_stale_after_s,
        )
        if claim is not None and claim.started_job:
            outbox.job_started(session, job_id)
        return claim

    claim = in_transaction(url, claim_it)
    if claim is None:
        logger.info("shard %s/%d is done, held by a live worker, or its job ended", job_id, shard)
        return None
    with job_context(job_id, shard=shard, tenant=claim.tenant):
        return _run_claim(claim, settings, worker)


def _run_claim(claim: ShardClaim, settings: Settings, worker: str) -> JobStatus | None:
    """Run a shard this worker has just claimed, until it ends or stops."""
    url, job_id, shard = settings.resolved_database_url, claim.job_id, claim.shard
    spec = JobSpec.model_validate(claim.spec)
    budget = JobBudget(url, job_id, worker)
    trial_log = JobTrialLog(
        url,
        job_id,
        get_metric(spec.metric.name).greater_is_better,
        progress_every_s=settings.webhook_progress_every_s,
    )
    storage = _storage(settings, budget, trial_log)
    timeout_s = spec.budget.timeout_s
    deadline = claim.started_at_timestamp + timeout_s if timeout_s else None
    logger.info("job %s shard %d/%d: running on %s", job_id, shard, claim.shards, worker)
    try:
        data = local_data(job_id, spec, settings)
        warm_setups = _warm_setups(url, claim, data)
        with ShardHeartbeat(url, job_id, shard, worker, settings.job_heartbeat_s) as heartbeat:
            context = SearchContext(
                storage=storage,
                study_name=claim.study_name,
                data_roots=data.data_roots,
                device=resolve_device(settings.device),
                should_stop=heartbeat.should_stop,
                deadline=deadline,
                max_population_size=settings.max_population_size,
                heartbeat_s=settings.trial_heartbeat_s,
                # With one shard, the shard's lease makes its worker the study's only writer.
                exclusive=claim.shards == 1,
                budget=budget,
                trial_log=trial_log,
                warm_setups=warm_setups,
            )
            search = Search.open(data.spec, context)
            return _run(search, heartbeat, url, job_id, shard, worker, data)
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


def _warm_setups(url: str, claim: ShardClaim, data: LocalData) -> list[WarmSetup]:
    """The earlier best setups the job's ``warm_start`` asks for: those of the jobs it names, or
    for "auto" those of the tenant's latest succeeded jobs on the same data (by fingerprint)
    with a metric of the same task."""
    spec = data.spec
    if spec.warm_start is None:
        return []
    warm, task, tenant = spec.warm_start, spec.planned_task, claim.tenant

    def find(session: Session) -> list[WarmSetup]:
        if isinstance(warm, WarmStart):
            return warm_repo.named_setups(
                session=session, tenant=tenant, job_ids=warm.from_jobs, task=task
            )
        return warm_repo.matching_setups(
            session=session,
            tenant=tenant,
            fingerprint=data.source.fingerprint,
            task=task,
            exclude=claim.job_id,
        )

    setups = in_transaction(url, find)
    logger.info("job %s: %d warm-start setup(s) found", claim.job_id, len(setups))
    return setups


def _storage(settings: Settings, budget: JobBudget, trial_log: JobTrialLog) -> RDBStorage:
    """The job's Optuna storage: retried on database blips; a trial lost with its worker gives
    its budget slot back and is recorded as lost (it is queued again)."""

    def lost(trial: FrozenTrial) -> None:
        budget.give_back()
        trial_log.record_lost(trial)

    return make_storage(
        settings.resolved_database_url,
        heartbeat_s=settings.trial_heartbeat_s,
        grace_s=settings.trial_grace_s,
        max_retry=settings.max_trial_retries,
        on_lost_trial=lost,
        storage_class=ResilientRDBStorage,
    )


def _run(
    search: Search,
    heartbeat: ShardHeartbeat,
    url: str,
    job_id: str,
    shard: int,
    worker: str,
    data: LocalData,
) -> JobStatus | None:
    POPULATION_SIZE.set(search.population.members)
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
    stored = with_source(result, data.source).model_dump(mode="json")
    return _finish_job(url, job_id, JobStatus.SUCCEEDED, result=stored, finalizer=finalizer)


def _finish_job(
    url: str,
    job_id: str,
    status: JobStatus,
    result: dict[str, Any] | None = None,
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
        if ended is not None:
            outbox.job_ended(session, job_id, ended)
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
