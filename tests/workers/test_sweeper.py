"""The sweeper: shards whose message was never sent, was lost, or whose worker died are sent
again, through the real (embedded) broker, once per due time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from service.db import jobs as jobs_repo
from service.db import shards as shards_repo
from service.db.models import JobRow, ShardRow, utcnow
from service.db.session import session_scope
from service.queue import RUN_JOB_TASK, producer, send_shards
from service.settings import Settings
from workers.engine.spec import Budget, JobSpec, MetricRef, Parallelism, Task
from workers.sweeper import Send, sweep

SPEC = JobSpec(
    dataset="builtin:iris",
    task=Task.MULTICLASS,
    metric=MetricRef(name="accuracy"),
    budget=Budget(n_trials=3),
)


def new_job(settings: Settings, shards: int = 1, age_s: float = 0.0) -> str:
    with session_scope(settings.resolved_database_url) as session:
        spec = SPEC.model_copy(update={"parallelism": Parallelism(shards=shards)})
        row, _ = jobs_repo.create_job(session=session, spec=spec)
        session.execute(
            update(JobRow)
            .where(JobRow.id == row.id)
            .values(created_at=utcnow() - timedelta(seconds=age_s))
        )
        return row.id


def shard(settings: Settings, job_id: str, number: int = 0) -> ShardRow:
    with session_scope(settings.resolved_database_url) as session:
        return jobs_repo.get_shards(session=session, job_id=job_id)[number]


def messages(settings: Settings) -> list[tuple[str, int]]:
    """Drain the broker's queue: the (job id, shard) of every message waiting in it."""
    found: list[tuple[str, int]] = []
    with producer(settings.resolved_broker_url).connection_for_read() as connection:
        channel = connection.default_channel
        while (message := channel.basic_get(settings.queue_name)) is not None:
            assert message.headers["task"] == RUN_JOB_TASK
            job_id, number = message.decode()[0]
            found.append((job_id, number))
            message.ack()
    return found


def send(settings: Settings) -> Send:
    """Sending as the workers do, through the settings' (real) broker."""

    def one(job_id: str, number: int) -> None:
        send_shards(job_id, [number], settings)

    return one


def test_a_job_never_sent_is_sent_once_it_is_due(settings: Settings) -> None:
    fresh = new_job(settings)
    unsent = new_job(settings, shards=2, age_s=120)
    assert sorted(sweep(settings, send(settings))) == [(unsent, 0), (unsent, 1)]
    assert sorted(messages(settings)) == [(unsent, 0), (unsent, 1)]
    assert (shard(settings, unsent).sends, shard(settings, fresh).sends) == (1, 0)
    # Sent just now: not due again until the backoff has passed.
    assert sweep(settings, send(settings)) == []
    assert messages(settings) == []


def test_a_lost_message_is_sent_again_with_a_doubling_wait(settings: Settings) -> None:
    job_id = new_job(settings)
    with session_scope(settings.resolved_database_url) as session:
        shards_repo.claim_resends(session=session, resend_after_s=0.0, max_backoff_s=3600)
    url = settings.resolved_database_url

    def sent_ago(seconds: float, sends: int) -> None:
        with session_scope(url) as session:
            session.execute(
                update(ShardRow)
                .where(ShardRow.job_id == job_id)
                .values(sent_at=utcnow() - timedelta(seconds=seconds), sends=sends)
            )

    sent_ago(90, sends=2)  # the second send waits 2 x 60 s
    assert sweep(settings, send(settings)) == []
    sent_ago(130, sends=2)
    assert sweep(settings, send(settings)) == [(job_id, 0)]
    assert messages(settings) == [(job_id, 0)]
    assert shard(settings, job_id).sends == 3


def test_claimed_shards_and_finished_jobs_are_left_alone(settings: Settings) -> None:
    claimed, cancelled = new_job(settings, age_s=600), new_job(settings, age_s=600)
    with session_scope(settings.resolved_database_url) as session:
        assert shards_repo.claim_shard(
            session=session, job_id=claimed, shard=0, worker="w", stale_after_s=30
        )
        assert jobs_repo.request_cancel(session=session, job_id=cancelled)
    assert sweep(settings, send(settings)) == []
    assert messages(settings) == []


def test_a_shard_whose_worker_died_is_queued_and_sent_again(settings: Settings) -> None:
    job_id = new_job(settings)
    with session_scope(settings.resolved_database_url) as session:
        shards_repo.claim_shard(
            session=session, job_id=job_id, shard=0, worker="w", stale_after_s=30
        )
        session.execute(
            update(ShardRow)
            .where(ShardRow.job_id == job_id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=120))
        )
    assert sweep(settings, send(settings)) == [(job_id, 0)]
    assert messages(settings) == [(job_id, 0)]
    assert shard(settings, job_id).status == "queued"
    assert sweep(settings, send(settings)) == []  # counted as sent: not sent twice


def test_a_broker_that_is_down_leaves_the_shard_due(settings: Settings) -> None:
    job_id = new_job(settings, age_s=120)
    down = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    assert sweep(down, send(down)) == [(job_id, 0)]  # tried, and logged, not raised
    with session_scope(settings.resolved_database_url) as session:
        session.execute(
            update(ShardRow)
            .where(ShardRow.job_id == job_id)
            .values(sent_at=utcnow() - timedelta(seconds=120))
        )
    assert sweep(settings, send(settings)) == [(job_id, 0)]
    assert messages(settings) == [(job_id, 0)]


def all_shards_done(settings: Settings, job_id: str, ago_s: float) -> None:
    """Every shard of the job ran and ended ``ago_s`` ago; the job is still running."""
    url = settings.resolved_database_url
    with session_scope(url) as session:
        for number in range(len(jobs_repo.get_shards(session=session, job_id=job_id))):
            shards_repo.claim_shard(
                session=session, job_id=job_id, shard=number, worker="w", stale_after_s=30
            )
            shards_repo.finish_shard(session=session, job_id=job_id, shard=number, worker="w")
        session.execute(
            update(ShardRow)
            .where(ShardRow.job_id == job_id)
            .values(finished_at=utcnow() - timedelta(seconds=ago_s))
        )


def test_a_job_whose_shards_ended_but_nobody_finalized_is_resumed(settings: Settings) -> None:
    job_id = new_job(settings, shards=2, age_s=600)
    all_shards_done(settings, job_id, ago_s=120)
    assert sweep(settings, send(settings)) == [(job_id, 0)]
    assert messages(settings) == [(job_id, 0)]
    assert shard(settings, job_id, 0).status == "queued"
    assert shard(settings, job_id, 1).status == "done"
    assert sweep(settings, send(settings)) == []  # queued and counted as sent: not sent twice
    # Whoever claims the shard finds the others done and finalizes.
    with session_scope(settings.resolved_database_url) as session:
        assert shards_repo.claim_shard(
            session=session, job_id=job_id, shard=0, worker="v", stale_after_s=30
        )
        assert shards_repo.claim_finalization(session=session, job_id=job_id, shard=0, worker="v")


def test_a_job_whose_last_shard_just_ended_is_given_time_to_finalize(settings: Settings) -> None:
    job_id = new_job(settings, shards=2, age_s=600)
    all_shards_done(settings, job_id, ago_s=1)  # its worker is about to claim finalization
    assert sweep(settings, send(settings)) == []
    assert messages(settings) == []


def test_a_finalizer_that_died_is_queued_again_and_finalizes(settings: Settings) -> None:
    job_id = new_job(settings, shards=2, age_s=600)
    all_shards_done(settings, job_id, ago_s=120)
    with session_scope(settings.resolved_database_url) as session:
        assert shards_repo.claim_finalization(session=session, job_id=job_id, shard=1, worker="w")
        session.execute(  # then the worker died: its heartbeat went silent
            update(ShardRow)
            .where(ShardRow.job_id == job_id, ShardRow.shard == 1)
            .values(heartbeat_at=utcnow() - timedelta(seconds=120))
        )
    assert sweep(settings, send(settings)) == [(job_id, 1)]
    assert messages(settings) == [(job_id, 1)]
    with session_scope(settings.resolved_database_url) as session:
        assert shards_repo.claim_shard(
            session=session, job_id=job_id, shard=1, worker="v", stale_after_s=30
        )
        # The finalization it held is still its own; no other shard can take it.
        assert not shards_repo.claim_finalization(
            session=session, job_id=job_id, shard=0, worker="u"
        )
        assert shards_repo.claim_finalization(session=session, job_id=job_id, shard=1, worker="v")


def test_a_shard_given_back_in_a_database_blip_is_sent_again(settings: Settings) -> None:
    job_id = new_job(settings, age_s=600)
    with session_scope(settings.resolved_database_url) as session:
        shards_repo.claim_shard(
            session=session, job_id=job_id, shard=0, worker="w", stale_after_s=30
        )
        assert shards_repo.release_shard(session=session, job_id=job_id, shard=0, worker="w")
    assert sweep(settings, send(settings)) == [(job_id, 0)]
    assert messages(settings) == [(job_id, 0)]
