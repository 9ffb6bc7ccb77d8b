"""Optuna studies: storage with heartbeats, one study per job, budget accounting, trial records.

Trials live in Optuna's RDB storage and are written as they finish, so a crashed worker loses at
most the trials in flight. While a trial runs, a heartbeat thread touches it; a trial whose
heartbeat goes stale (its worker died) is marked failed by the next worker that looks and put
back in the queue with the same parameters (Optuna's ``RetryHeartbeatStaleTrialCallback``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from workers.engine.metrics import Metric
from workers.engine.optuna_adapter import storage_of, study_id_of, trial_by_id, trial_id_of

logger = logging.getLogger(__name__)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


@contextmanager
def quiet_experimental() -> Iterator[None]:
    """Silence Optuna's "experimental feature" warnings for the heartbeat API we rely on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
        yield


def make_storage(
    url: str,
    *,
    heartbeat_s: int = 10,
    grace_s: int = 60,
    max_retry: int = 2,
    on_lost_trial: Callable[[FrozenTrial], None] | None = None,
    storage_class: type[RDBStorage] = RDBStorage,
) -> RDBStorage:
    """Optuna RDB storage on ``url`` with heartbeats and retry of lost trials.

    ``on_lost_trial`` is called with every trial failed because its worker was lost (after it
    has been re-queued), e.g. to give its trial-budget slot back and record it as lost.
    ``storage_class`` may be a subclass that adds behaviour, such as retries on database blips
    or writes held back into fewer transactions (the workers' ``ResilientRDBStorage`` does both).
    """
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        # Several processes write to one SQLite file: wait for locks instead of failing.
        engine_kwargs["connect_args"] = {"timeout": 60, "factory": _WalConnection}
    with quiet_experimental():
        storage = storage_class(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_s,
            grace_period=grace_s,
            heartbeat_stale_trial_callback=_LostTrial(max_retry, on_lost_trial),
        )
    return storage


class _WalConnection(sqlite3.Connection):
    """SQLite connection in WAL mode with synchronous=NORMAL.

    Every report and attribute Optuna writes is its own transaction; with these settings a
    commit no longer waits for the disk. A crash of the process loses nothing; a power cut may
    lose the last commits.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA journal_mode=WAL")
        self.execute("PRAGMA synchronous=NORMAL")


class _LostTrial:
    """Re-queue a lost trial with its parameters (Optuna's retry callback), then notify."""

    def __init__(self, max_retry: int, on_lost: Callable[[FrozenTrial], None] | None) -> None:
        with quiet_experimental():
            self._retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
        self._on_lost = on_lost

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        with quiet_experimental():
            self._retry(study, trial)
        if self._on_lost is not None:
            self._on_lost(trial)


def open_study(
    storage: optuna.storages.BaseStorage, name: str, metric: Metric, seed: int
) -> tuple[optuna.Study, bool]:
    """Load the job's study, or create it. Returns the study and whether this call created it."""
    sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True, n_startup_trials=8)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=10)
    direction = StudyDirection.MAXIMIZE if metric.greater_is_better else StudyDirection.MINIMIZE
    try:
        study = optuna.create_study(
            storage=storage, study_name=name, direction=direction, sampler=sampler, pruner=pruner
        )
        return study, True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(
            study_name=name, storage=storage, sampler=sampler, pruner=pruner
        ), False


def retried_trial_numbers(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of failed trials that were re-queued because their worker was lost."""
    retried: set[int] = set()
    with quiet_experimental():
        for trial in trials:
            retried.update(RetryHeartbeatStaleTrialCallback.retry_history(trial))
    return retried


def fail_stale_trials(study: optuna.Study) -> None:
    """Fail trials whose worker stopped sending heartbeats, and re-queue them."""
    with quiet_experimental():
        optuna.storages.fail_stale_trials(study)


def running_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Trials of the study marked running, by any process (read past the study's cache)."""
    return storage_of(study).get_all_trials(
        study_id_of(study), deepcopy=False, states=(TrialState.RUNNING,)
    )


def trials_used(trials: list[FrozenTrial]) -> int:
    """Trials that count against the budget: started ones, not counting lost-and-retried ones."""
    started = [t for t in trials if t.state != TrialState.WAITING]
    retried = retried_trial_numbers(trials)
    return sum(1 for t in started if not (t.state == TrialState.FAIL and t.number in retried))


class Heartbeat:
    """Records a heartbeat for every trial this process runs, every ``interval`` seconds.

    Use it as a context manager around the whole search; :meth:`add` a trial right after asking
    for it (it records one beat at once, so the trial is never without one for long) and
    :meth:`remove` it once told.
    """

    def __init__(self, storage: optuna.storages.BaseStorage, interval: float) -> None:
        self._storage = storage if isinstance(storage, RDBStorage) else None
        self._interval = interval
        self._trial_ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trial-heartbeat", daemon=True)

    @property
    def enabled(self) -> bool:
        """Whether the storage keeps heartbeats (so trials of dead workers can be found)."""
        return self._storage is not None and self._storage.get_heartbeat_interval() is not None

    def __enter__(self) -> Heartbeat:
        if self._storage is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def add(self, trial_id: int) -> None:
        if self._storage is not None:
            self._storage.record_heartbeat(trial_id)
        with self._lock:
            self._trial_ids.add(trial_id)

    def remove(self, trial_id: int) -> None:
        with self._lock:
            self._trial_ids.discard(trial_id)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                ids = sorted(self._trial_ids)
            for trial_id in ids:
                assert self._storage is not None
                try:
                    self._storage.record_heartbeat(trial_id)
                except Exception:  # a database blip: the next beat tries again
                    logger.warning("could not record a heartbeat of trial %d", trial_id)
                    break


def ask(study: optuna.Study, storage: optuna.storages.BaseStorage) -> optuna.Trial:
    """A new running trial: the oldest queued one if any, else a fresh one (``Study.ask``).

    ``Study.ask`` finds queued trials through the study's caching layer, which reloads every
    unfinished trial with its parameters, attributes and reports; with a population of running
    trials that is slow. This asks ``storage`` (the study's own, uncached) for queued trials only.
    """
    for queued in storage.get_all_trials(
        study_id_of(study), deepcopy=False, states=(TrialState.WAITING,)
    ):
        if storage.set_trial_state_values(trial_id_of(queued), state=TrialState.RUNNING):
            return trial_by_id(study, trial_id_of(queued))
    return trial_by_id(study, storage.create_new_trial(study_id_of(study)))


def fail_orphaned_trials(study: optuna.Study) -> int:
    """Fail (and re-queue) every running trial: for a caller that alone works on the study.

    A worker taking over a job it holds exclusively knows that whatever is still marked running
    was started by a process that is gone, heartbeat or not. Returns how many were failed.
    """
    storage = storage_of(study)  # Optuna wraps the RDB storage in a cache that delegates to it
    get_callback = getattr(storage, "get_heartbeat_stale_trial_callback", None)
    callback = get_callback() if get_callback is not None else None
    orphans = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in orphans:
        try:
            storage.set_trial_state_values(trial_id_of(trial), state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        if callback is not None:
            with quiet_experimental():
                callback(study, storage.get_trial(trial_id_of(trial)))
    return len(orphans)


def failure_summary(trials: list[FrozenTrial]) -> str:
    """One readable line on why no trial completed."""
    reasons: dict[str, int] = {}
    for trial in trials:
        if trial.state == TrialState.FAIL:
            reason = str(trial.user_attrs.get("failure_reason") or "the worker running it was lost")
        else:
            reason = "pruned"
        reasons[reason] = reasons.get(reason, 0) + 1
    parts = [
        f"{count} × {reason}" for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])
    ]
    return f"all {len(trials)} trials failed or were pruned: " + "; ".join(parts)
