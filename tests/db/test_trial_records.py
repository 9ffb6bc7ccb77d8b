"""Trial records and job progress: what the workers write and the API pages through."""

from __future__ import annotations

import threading

import optuna
import pytest
from optuna.trial import TrialState

from service.db import jobs as jobs_repo
from service.db import trials as trials_repo
from service.db.migrate import backfill_trial_records
from service.db.models import JobRow
from service.db.reads import read_engine, trial_page
from service.db.session import DEFAULT_POOL, session_scope
from workers.engine.spec import Budget, JobSpec, MetricRef, Task
from workers.engine.studies import make_storage
from workers.engine.trial_records import TrialRecord

SPEC = JobSpec(
    dataset="builtin:iris",
    task=Task.MULTICLASS,
    metric=MetricRef(name="f1"),
    budget=Budget(n_trials=20),
)


def new_job(url: str) -> str:
    with session_scope(url) as session:
        row, _ = jobs_repo.create_job(session=session, spec=SPEC)
        return row.id


def record(url: str, job_id: str, *records: TrialRecord, maximize: bool = True) -> None:
    with session_scope(url) as session:
        trials_repo.record_trials(
            session=session, job_id=job_id, records=records, maximize=maximize
        )


def job(url: str, job_id: str) -> JobRow:
    with session_scope(url) as session:
        row = jobs_repo.get_job(session=session, job_id=job_id)
        assert row is not None
        return row


def states(url: str, job_id: str) -> dict[int, str]:
    with session_scope(url) as session:
        return {t.number: t.state for t in trials_repo.all_trials(session=session, job_id=job_id)}


def done(number: int, value: float | None, state: str = "complete", **kw: object) -> TrialRecord:
    return TrialRecord(number=number, state=state, value=value, **kw)  # type: ignore[arg-type]


def test_progress_counts_trials_by_state_and_keeps_the_best(database_url: str) -> None:
    job_id = new_job(database_url)
    record(
        database_url,
        job_id,
        done(0, 0.7, family="proxy", loss="cross_entropy"),
        done(1, 0.9, family="weighted", loss="focal"),
        done(2, 0.95, state="pruned"),
        TrialRecord(number=3, state="running"),
        TrialRecord(number=4, state="lost", failure_reason="lost"),
    )
    row = job(database_url, job_id)
    counts = (row.trials_complete, row.trials_pruned, row.trials_running, row.trials_lost)
    assert counts == (2, 1, 1, 1)
    # A pruned trial's value is its last report, not a result: it is never the best.
    assert (row.best_trial_number, row.best_value, row.best_loss) == (1, 0.9, "focal")
    assert row.progress_at is not None


def test_the_best_follows_the_metric_direction(database_url: str) -> None:
    job_id = new_job(database_url)
    record(database_url, job_id, done(0, 0.7), done(1, 0.2), maximize=False)
    assert job(database_url, job_id).best_trial_number == 1


def test_a_record_never_moves_a_trial_backwards(database_url: str) -> None:
    job_id = new_job(database_url)
    record(database_url, job_id, TrialRecord(number=0, state="waiting"))
    record(database_url, job_id, TrialRecord(number=0, state="running", loss="focal"))
    record(database_url, job_id, done(0, 0.8, loss="focal"))
    # A stale snapshot (another worker read the study before the trial ended) arrives late.
    record(database_url, job_id, TrialRecord(number=0, state="running"))
    record(database_url, job_id, TrialRecord(number=0, state="waiting"))
    assert states(database_url, job_id) == {0: "complete"}
    assert job(database_url, job_id).trials_complete == 1
    # A finished trial may still be corrected by a later finished record (failed → lost).
    record(database_url, job_id, done(1, None, state="failed"))
    record(database_url, job_id, done(1, None, state="lost"))
    assert states(database_url, job_id)[1] == "lost"


@pytest.mark.anyio
async def test_trials_page_by_value_with_the_best_first_and_no_value_last(
    database_url: str,
) -> None:
    job_id = new_job(database_url)
    values = [0.5, None, 0.9, 0.1, None, 0.9, 0.3]
    record(database_url, job_id, *(done(n, v) for n, v in enumerate(values)))
    engine = read_engine(database_url, DEFAULT_POOL)
    async with engine.connect() as connection:
        best_first = {"by_value": True, "descending": True}
        page, total = await trial_page(connection, job_id, **best_first, limit=4, offset=0)
        rest, _ = await trial_page(connection, job_id, **best_first, limit=4, offset=4)
        lowest = await trial_page(
            connection, job_id, by_value=True, descending=False, limit=2, offset=0
        )
    await engine.dispose()
    assert total == 7
    assert [t.number for t in page + rest] == [2, 5, 0, 6, 3, 1, 4]  # ties by number
    assert [t.number for t in lowest[0]] == [3, 6]


def test_large_batches_are_written_whole(database_url: str) -> None:
    job_id = new_job(database_url)
    record(database_url, job_id, *(done(n, n / 1000) for n in range(1200)))
    row = job(database_url, job_id)
    assert (row.trials_complete, row.best_trial_number) == (1200, 1199)


def test_shards_recording_at_once_leave_consistent_progress(database_url: str) -> None:
    job_id = new_job(database_url)

    def shard(first: int) -> None:
        for number in range(first, first + 40, 2):
            record(database_url, job_id, done(number, number / 100))

    threads = [threading.Thread(target=shard, args=(first,)) for first in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    row = job(database_url, job_id)
    assert (row.trials_complete, row.best_trial_number) == (40, 39)


def test_jobs_from_before_trial_records_are_filled_in_from_their_study(database_url: str) -> None:
    job_id = new_job(database_url)
    storage = make_storage(database_url)
    study = optuna.create_study(storage=storage, study_name=job(database_url, job_id).study_name)
    for value in (0.3, 0.6):
        trial = study.ask()
        trial.set_user_attr("loss", "focal")
        study.tell(trial, value)
    study.tell(study.ask(), state=TrialState.PRUNED)
    storage.remove_session()

    assert backfill_trial_records(database_url, storage) == 1
    row = job(database_url, job_id)
    assert (row.trials_complete, row.trials_pruned, row.best_value) == (2, 1, 0.6)
    assert backfill_trial_records(database_url, storage) == 0  # done once, not again
