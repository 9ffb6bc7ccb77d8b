"""Webhooks on the worker side, against a real receiver on loopback: a job's events are queued
as they happen, sent signed per Standard Webhooks, retried with backoff after a failure, and
given up after the retry window. The search itself never sends anything."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from standardwebhooks import Webhook

from service.db import jobs as jobs_repo
from service.db import webhooks as webhooks_repo
from service.db.models import JobRow, JobStatus, WebhookDeliveryRow
from service.db.session import session_scope
from service.metrics import WEBHOOK_DELIVERIES
from service.settings import Settings
from service.webhooks import outbox
from service.webhooks.signing import new_secret
from tests.receiver import receiver, signature_is_valid
from tests.workers.test_job_lifecycle import make_job
from workers.engine.results import Verdict
from workers.jobs import run_shard
from workers.webhook_dispatcher import deliver_due

ALL_EVENTS = ["job.started", "job.progress", "job.succeeded", "job.failed", "job.cancelled"]


@pytest.fixture
def hooks(settings: Settings) -> Settings:
    """The test settings with loopback receivers allowed and quick retries."""
    return settings.model_copy(
        update={
            "webhook_allow_private": True,
            "webhook_first_retry_s": 0.2,
            "webhook_max_retry_wait_s": 1.0,
            "webhook_timeout_s": 2.0,
        }
    )


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False) as client:
        yield client


def job_notifying(settings: Settings, url: str, events: list[str], **spec: Any) -> str:
    """A queued job whose own webhooks go to ``url``."""
    job_id = make_job(settings, **spec)
    with session_scope(settings.resolved_database_url) as session:
        row = jobs_repo.get_job(session=session, job_id=job_id)
        assert row is not None
        row.notify = {"url": url, "events": events}
    return job_id


def deliveries(settings: Settings, job_id: str) -> list[WebhookDeliveryRow]:
    with session_scope(settings.resolved_database_url) as session:
        rows, _ = webhooks_repo.job_deliveries(session=session, job_id=job_id, limit=100, offset=0)
        session.expunge_all()
        return list(rows)


def secret_of(settings: Settings, tenant: str = "default") -> str:
    with session_scope(settings.resolved_database_url) as session:
        return webhooks_repo.tenant_secret(session=session, tenant=tenant, make=new_secret)


def deliver_until(
    settings: Settings, http: httpx.Client, done: Any, timeout_s: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "deliveries did not settle in time"
        deliver_due(settings, http)
        time.sleep(0.05)


def counted(outcome: str) -> float:
    return WEBHOOK_DELIVERIES.labels(outcome)._value.get()  # type: ignore[no-any-return]


def test_a_job_that_succeeds_sends_signed_started_and_succeeded_webhooks(
    hooks: Settings, http: httpx.Client
) -> None:
    with receiver() as hook:
        job_id = job_notifying(hooks, hook.url, ["job.started", "job.succeeded"])
        run_shard(job_id, 0, hooks)
        assert {d.event for d in deliveries(hooks, job_id)} == {"job.started", "job.succeeded"}
        assert hook.received == []  # queued by the job, sent by the dispatcher
        deliver_until(hooks, http, lambda: len(hook.received) == 2)

    secret = secret_of(hooks)
    started, succeeded = hook.of_type("job.started")[0], hook.of_type("job.succeeded")[0]
    for request in (started, succeeded):
        assert signature_is_valid(secret, request)
        Webhook(secret).verify(request.body, request.headers)  # the reference implementation
        assert request.headers["content-type"] == "application/json"
        assert request.path == "/hooks/loss-search"
    data = succeeded.payload["data"]
    assert data["job_id"] == job_id
    assert data["status"] == "succeeded"
    assert data["best"]["loss"]
    assert data["best"]["verdict"] in set(Verdict)
    assert data["best"]["summary"]
    assert data["links"]["job"] == f"/v1/jobs/{job_id}"
    assert started.payload["data"]["started_at"]
    assert {d.status for d in deliveries(hooks, job_id)} == {"delivered"}


def test_a_tampered_body_or_another_secret_fails_verification(
    hooks: Settings, http: httpx.Client
) -> None:
    with receiver() as hook:
        job_id = job_notifying(hooks, hook.url, ["job.started"], n_trials=1)
        run_shard(job_id, 0, hooks)
        deliver_until(hooks, http, lambda: len(hook.received) == 1)
    request = hook.received[0]
    assert signature_is_valid(secret_of(hooks), request)
    forged = replace(request, body=request.body + b" ")
    assert not signature_is_valid(secret_of(hooks), forged)
    assert not signature_is_valid(new_secret(), request)


def test_a_failed_delivery_is_retried_with_growing_waits_until_it_is_delivered(
    hooks: Settings, http: httpx.Client
) -> None:
    retried, delivered = counted("retry"), counted("delivered")
    with receiver(fail_first=[500, 503]) as hook:
        job_id = job_notifying(hooks, hook.url, ["job.started"], n_trials=1)
        run_shard(job_id, 0, hooks)
        deliver_until(hooks, http, lambda: len(hook.received) == 3)

    (delivery,) = deliveries(hooks, job_id)
    assert delivery.status == "delivered"
    assert [a["status_code"] for a in delivery.attempts_log] == [500, 503, 200]
    assert [a["error"] for a in delivery.attempts_log] == ["HTTP 500", "HTTP 503", None]
    # One message: the same webhook-id on every attempt, each attempt signed anew.
    assert {r.headers["webhook-id"] for r in hook.received} == {delivery.id}
    assert all(signature_is_valid(secret_of(hooks), r) for r in hook.received)
    times = [a["at"] for a in delivery.attempts_log]
    gaps = [
        (later - earlier).total_seconds()
        for earlier, later in zip(_parsed(times), _parsed(times)[1:], strict=False)
    ]
    assert gaps[0] >= 0.2 * 0.8  # the first retry's wait, less its jitter
    assert gaps[1] >= 0.4 * 0.8  # doubled
    assert counted("retry") - retried == 2
    assert counted("delivered") - delivered == 1


def test_a_delivery_is_given_up_after_the_retry_window(hooks: Settings, http: httpx.Client) -> None:
    brief = hooks.model_copy(update={"webhook_retry_for_s": 1.5})
    with receiver(fail_first=[500] * 100) as hook:
        job_id = job_notifying(brief, hook.url, ["job.cancelled"])
        with session_scope(brief.resolved_database_url) as session:  # as the cancel route does
            jobs_repo.request_cancel(session=session, job_id=job_id)
            outbox.job_ended(session, job_id, JobStatus.CANCELLED)
        deliver_until(brief, http, lambda: deliveries(brief, job_id)[0].status == "failed")
    (delivery,) = deliveries(brief, job_id)
    assert delivery.next_attempt_at is None
    assert delivery.finished_at is not None
    assert 2 <= len(delivery.attempts_log) == len(hook.received)


def test_an_address_refused_at_send_time_is_not_called(
    hooks: Settings, settings: Settings, http: httpx.Client
) -> None:
    """A URL stored while private targets were allowed is checked again before each attempt."""
    with receiver() as hook:
        job_id = job_notifying(hooks, hook.url, ["job.started"], n_trials=1)
        run_shard(job_id, 0, hooks)
        deliver_due(settings, http)  # webhook_allow_private is off here
        assert hook.received == []
    (delivery,) = deliveries(settings, job_id)
    assert delivery.status == "pending"
    assert "refused: 127.0.0.1 is a loopback address" in delivery.attempts_log[0]["error"]


def test_progress_webhooks_are_rate_limited_per_job(hooks: Settings, http: httpx.Client) -> None:
    with receiver() as hook:
        slow = job_notifying(hooks, hook.url, ["job.progress"], n_trials=4)
        run_shard(slow, 0, hooks)  # every 30 s by default: one, after the first trials
        frequent = hooks.model_copy(update={"webhook_progress_every_s": 1e-6})
        fast = job_notifying(frequent, hook.url, ["job.progress"], n_trials=4)
        run_shard(fast, 0, frequent)
    assert len(deliveries(hooks, slow)) == 1
    progress = [d.payload["data"]["progress"] for d in deliveries(hooks, fast)]
    assert len(progress) >= 2
    finished = [p["finished"] for p in progress]
    assert finished == sorted(finished)
    assert all(p["planned"] == 4 for p in progress)


def test_a_tenants_endpoints_get_its_jobs_events_and_only_those(
    hooks: Settings, http: httpx.Client
) -> None:
    with session_scope(hooks.resolved_database_url) as session:
        webhooks_repo.add_endpoint(
            session=session, tenant="team-a", url="http://127.0.0.1:9/a", events=ALL_EVENTS
        )
    job_id = make_job(hooks, n_trials=1)  # the default tenant's: team-a's endpoint is not told
    run_shard(job_id, 0, hooks)
    assert deliveries(hooks, job_id) == []
    team_job = make_job(hooks, n_trials=1)
    with session_scope(hooks.resolved_database_url) as session:
        session.execute(update(JobRow).where(JobRow.id == team_job).values(tenant="team-a"))
    run_shard(team_job, 0, hooks)
    events = [d.event for d in deliveries(hooks, team_job)]
    assert events[0] == "job.started"
    assert events[-1] == "job.succeeded"


def _parsed(times: list[str]) -> list[datetime]:
    return [datetime.fromisoformat(t) for t in times]
