"""A job's life on the worker side, against a real (SQLite) database and Optuna storage."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from service.db import jobs as jobs_repo
from service.db import shards as shards_repo
from service.db import trial_ledger
from service.db import trials as trials_repo
from service.db.models import JobRow, JobStatus, ShardRow, TrialRow, utcnow
from service.db.session import session_scope
from service.settings import Settings
from tests.integration.harness import wait_for
from workers.engine.spec import (
    Budget,
    Confirmation,
    Family,
    JobSpec,
    MetricRef,
    Parallelism,
    Task,
)
from workers.job_hooks import ShardHeartbeat
from workers.jobs import run_shard

STALE_AFTER = 30.0


def make_job(settings: Settings, shards: int = 1, n_trials: int = 3, **fields: Any) -> str:
    spec = JobSpec(
        **{
            "dataset": "builtin:breast_cancer",
            "task": Task.BINARY,
            "metric": MetricRef(name="roc_auc"),
            "budget": Budget(n_trials=n_trials),
            "families": [Family.PROXY, Family.WEIGHTED],
            "parallelism": Parallelism(population_size=2, shards=shards),
            "confirmation": Confirmation(top_k=2, seeds=2, seeds_per_fold=2),
            **fields,
        }
    )
    with session_scope(settings.resolved_database_url) as session:
        row, _ = jobs_repo.create_job(session=session, spec=spec)
        return row.id


def trials(settings: Settings, job_id: str) -> list[TrialRow]:
    """The job's trial records, as the API reads them."""
    with session_scope(settings.resolved_database_url) as session:
        return trials_repo.all_trials(session=session, job_id=job_id)


def job(settings: Settings, job_id: str) -> JobRow:
    with session_scope(settings.resolved_database_url) as session:
        row = jobs_repo.get_job(session=session, job_id=job_id)
        assert row is not None
        return row


def shard_rows(settings: Settings, job_id: str) -> list[ShardRow]:
    with session_scope(settings.resolved_database_url) as session:
        return jobs_repo.get_shards(session=session, job_id=job_id)


def claim(settings: Settings, job_id: str, worker: str, shard: int = 0) -> bool:
    with session_scope(settings.resolved_database_url) as session:
        return (
            shards_repo.claim_shard(
                session=session,
                job_id=job_id,
                shard=shard,
                worker=worker,
                stale_after_s=STALE_AFTER,
            )
            is not None
        )


def age_heartbeat(settings: Settings, job_id: str, seconds: float) -> None:
    with session_scope(settings.resolved_database_url) as session:
        session.execute(
            update(ShardRow)
            .where(ShardRow.job_id == job_id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )


def test_a_queued_shard_is_claimed_once_and_marks_the_job_running(settings: Settings) -> None:
    job_id = make_job(settings)
    assert claim(settings, job_id, "a")
    assert not claim(settings, job_id, "b")  # a duplicate delivery while "a" lives does nothing
    assert job(settings, job_id).status == JobStatus.RUNNING.value
    assert job(settings, job_id).started_at is not None
    assert shard_rows(settings, job_id)[0].worker == "a"


def test_a_shard_whose_worker_went_silent_is_taken_over(settings: Settings) -> None:
    job_id = make_job(settings)
    claim(settings, job_id, "a")
    age_heartbeat(settings, job_id, 60)
    assert claim(settings, job_id, "b")
    row = shard_rows(settings, job_id)[0]
    assert (row.worker, row.attempts) == ("b", 2)
    with session_scope(settings.resolved_database_url) as session:
        lease = shards_repo.touch_shard(session=session, job_id=job_id, shard=0, worker="a")
    assert not lease.still_owner  # "a", if it wakes up, learns it lost the shard


def test_stale_shards_are_requeued_exactly_once(settings: Settings) -> None:
    silent, alive = make_job(settings), make_job(settings)
    claim(settings, silent, "a")
    claim(settings, alive, "b")
    age_heartbeat(settings, silent, 60)
    with session_scope(settings.resolved_database_url) as session:
        moved = shards_repo.requeue_stale_shards(session=session, stale_after_s=STALE_AFTER)
    with session_scope(settings.resolved_database_url) as session:
        again = shards_repo.requeue_stale_shards(session=session, stale_after_s=STALE_AFTER)
    assert moved == [(silent, 0)]
    assert again == []
    assert shard_rows(settings, silent)[0].status == "queued"
    assert shard_rows(settings, alive)[0].status == "running"


def test_a_finished_job_is_never_reopened(settings: Settings) -> None:
    job_id = make_job(settings)
    claim(settings, job_id, "a")
    with session_scope(settings.resolved_database_url) as session:
        assert jobs_repo.finish_job(session=session, job_id=job_id, status=JobStatus.SUCCEEDED)
    age_heartbeat(settings, job_id, 60)
    assert not claim(settings, job_id, "b")
    with session_scope(settings.resolved_database_url) as session:
        assert not jobs_repo.request_cancel(session=session, job_id=job_id)
        assert not jobs_repo.finish_job(session=session, job_id=job_id, status=JobStatus.FAILED)
        assert shards_repo.requeue_stale_shards(session=session, stale_after_s=1) == []
    assert job(settings, job_id).status == JobStatus.SUCCEEDED.value


def test_the_trial_budget_ledger_never_overspends(settings: Settings) -> None:
    job_id = make_job(settings)  # 3 trials
    url = settings.resolved_database_url
    takers: list[bool] = []
    lock = threading.Lock()

    def take_many() -> None:
        for _ in range(5):
            with session_scope(url) as session:
                taken = trial_ledger.take_trial_slot(session=session, job_id=job_id)
            with lock:
                takers.append(taken)

    threads = [threading.Thread(target=take_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert takers.count(True) == 3
    with session_scope(url) as session:
        trial_ledger.give_back_trial_slot(session=session, job_id=job_id)
        assert trial_ledger.take_trial_slot(session=session, job_id=job_id)
        assert not trial_ledger.take_trial_slot(session=session, job_id=job_id)


def test_a_trial_is_claimed_by_one_worker_only(settings: Settings) -> None:
    job_id = make_job(settings, shards=2)
    with session_scope(settings.resolved_database_url) as session:
        assert trial_ledger.claim_trial(session=session, job_id=job_id, trial_number=0, worker="a")
        assert not trial_ledger.claim_trial(
            session=session, job_id=job_id, trial_number=0, worker="b"
        )
        assert trial_ledger.claim_trial(session=session, job_id=job_id, trial_number=1, worker="b")
        # A retried claim (its first commit went through, the answer was lost) is still its own.
        assert trial_ledger.claim_trial(session=session, job_id=job_id, trial_number=0, worker="a")


def test_a_cancel_answered_before_the_result_is_written_wins(settings: Settings) -> None:
    job_id = make_job(settings)
    claim(settings, job_id, "a")
    with session_scope(settings.resolved_database_url) as session:
        assert jobs_repo.request_cancel(session=session, job_id=job_id)  # answered 202
    with session_scope(settings.resolved_database_url) as session:
        ended = jobs_repo.finish_job(
            session=session, job_id=job_id, status=JobStatus.SUCCEEDED, result={"best": 1}
        )
    assert ended is JobStatus.CANCELLED
    row = job(settings, job_id)
    assert (row.status, row.result) == (JobStatus.CANCELLED.value, None)


def test_a_cancel_after_the_result_is_written_is_refused(settings: Settings) -> None:
    job_id = make_job(settings)
    claim(settings, job_id, "a")
    with session_scope(settings.resolved_database_url) as session:
        ended = jobs_repo.finish_job(
            session=session, job_id=job_id, status=JobStatus.SUCCEEDED, result={"best": 1}
        )
    assert ended is JobStatus.SUCCEEDED
    with session_scope(settings.resolved_database_url) as session:
        assert not jobs_repo.request_cancel(session=session, job_id=job_id)  # answered 409
    assert job(settings, job_id).status == JobStatus.SUCCEEDED.value


def test_only_the_last_shard_to_finish_finalizes(settings: Settings) -> None:
    job_id = make_job(settings, shards=2)
    url = settings.resolved_database_url
    claim(settings, job_id, "a", shard=0)
    claim(settings, job_id, "b", shard=1)
    with session_scope(url) as session:
        assert not shards_repo.claim_finalization(
            session=session, job_id=job_id, shard=0, worker="a"
        )
        assert shards_repo.finish_shard(session=session, job_id=job_id, shard=0, worker="a")
    with session_scope(url) as session:
        assert shards_repo.claim_finalization(session=session, job_id=job_id, shard=1, worker="b")
    with session_scope(url) as session:
        assert not shards_repo.claim_finalization(
            session=session, job_id=job_id, shard=0, worker="a"
        )


def test_run_shard_searches_and_records_the_best_setup(settings: Settings) -> None:
    job_id = make_job(settings)
    assert run_shard(job_id, 0, settings) is JobStatus.SUCCEEDED
    row = job(settings, job_id)
    assert row.result is not None
    assert row.result["baseline"]["loss"] == "cross_entropy"
    assert 0.5 < row.result["best"]["test"] <= 1.0
    records = trials(settings, job_id)
    assert len(records) == 3
    assert {t.state for t in records} <= {"complete", "pruned"}
    assert row.trials_complete + row.trials_pruned == 3
    assert row.best_trial_number is not None
    assert row.trials_reserved == 3
    assert [s.status for s in shard_rows(settings, job_id)] == ["done"]
    assert run_shard(job_id, 0, settings) is None  # a second delivery does nothing


def test_two_shards_share_one_budget_and_one_result(settings: Settings) -> None:
    job_id = make_job(settings, shards=2, n_trials=6)
    outcomes: dict[int, JobStatus | None] = {}
    workers = [
        threading.Thread(target=lambda s=s: outcomes.__setitem__(s, run_shard(job_id, s, settings)))
        for s in (0, 1)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert sorted(outcomes.values(), key=str) == [None, JobStatus.SUCCEEDED]
    row = job(settings, job_id)
    records = trials(settings, job_id)
    assert len(records) == 6  # never more than the budget, whoever ran them
    assert len({t.number for t in records}) == 6
    assert row.trials_complete + row.trials_pruned == 6
    assert row.result is not None
    assert [s.status for s in shard_rows(settings, job_id)] == ["done", "done"]


def test_run_shard_stops_at_a_trial_boundary_when_cancelled(settings: Settings) -> None:
    job_id = make_job(settings, n_trials=200)
    fast = settings.model_copy(update={"job_heartbeat_s": 0.2})
    outcome: list[JobStatus | None] = []
    worker = threading.Thread(target=lambda: outcome.append(run_shard(job_id, 0, fast)))
    worker.start()
    wait_for(lambda: len(trials(settings, job_id)) >= 2, 60, "trials")
    with session_scope(settings.resolved_database_url) as session:
        assert jobs_repo.request_cancel(session=session, job_id=job_id)
    worker.join(timeout=60)
    assert outcome == [JobStatus.CANCELLED]
    records = trials(settings, job_id)
    assert 2 <= len(records) < 200
    assert "running" not in {t.state for t in records}
    assert job(settings, job_id).status == JobStatus.CANCELLED.value


def test_a_dataset_that_disappeared_fails_the_job_with_a_readable_error(
    settings: Settings, data_root: Path
) -> None:
    job_id = make_job(settings, dataset="small.csv", target=["label"])
    (data_root / "small.csv").unlink()
    assert run_shard(job_id, 0, settings) is JobStatus.FAILED
    error = job(settings, job_id).error
    assert error is not None
    assert "dataset file 'small.csv' was not found" in error


def test_the_heartbeat_notices_a_lost_shard(settings: Settings) -> None:
    job_id = make_job(settings)
    claim(settings, job_id, "me")
    url = settings.resolved_database_url
    with ShardHeartbeat(url, job_id, 0, "me", interval_s=0.05) as heartbeat:
        assert not heartbeat.should_stop()
        with session_scope(url) as session:
            session.execute(
                update(ShardRow).where(ShardRow.job_id == job_id).values(worker="other")
            )
        wait_for(heartbeat.should_stop, 5, "the heartbeat to notice")
    assert heartbeat.lost
    assert not heartbeat.cancelled


def test_the_baseline_runs_even_with_a_budget_of_one_trial(settings: Settings) -> None:
    job_id = make_job(settings, n_trials=1)
    assert run_shard(job_id, 0, settings) is JobStatus.SUCCEEDED
    result = job(settings, job_id).result
    assert result is not None
    assert result["best"]["arm"] == "baseline"
    assert result["comparison"]["test_lift"] == 0.0


def test_a_budget_slot_taken_by_a_worker_that_died_is_still_run(settings: Settings) -> None:
    # A worker died between taking a slot from the ledger and starting its trial: the ledger
    # says one trial more than the study holds. The finalizer recounts and runs it.
    job_id = make_job(settings)  # 3 trials
    with session_scope(settings.resolved_database_url) as session:
        assert trial_ledger.take_trial_slot(session=session, job_id=job_id)
    assert run_shard(job_id, 0, settings) is JobStatus.SUCCEEDED
    states = [t.state for t in trials(settings, job_id)]
    assert len(states) == 3
    assert set(states) <= {"complete", "pruned"}
