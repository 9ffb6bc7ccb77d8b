"""A job tells its owner what happens, on real processes and each backend: its live event
stream (read over HTTP, cut, and resumed with Last-Event-ID), its signed webhooks (retried after
the receiver's 500), its delivery log, and the Prometheus page after it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.api.test_events import Sse, parse
from tests.integration.harness import Backend, Service, job_in, wait_for
from tests.receiver import receiver, signature_is_valid

pytestmark = pytest.mark.integration

EVENTS = ["job.started", "job.progress", "job.succeeded", "job.failed", "job.cancelled"]
N_TRIALS = 4


@pytest.fixture(scope="module")
def service(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """API and worker sharing a Prometheus directory, with loopback webhooks allowed."""
    workdir = tmp_path_factory.mktemp(f"notifications-{backend.name}")
    data_root = workdir / "data"
    data_root.mkdir()
    (workdir / "metrics").mkdir()
    running = Service(
        backend=backend,
        workdir=workdir,
        data_root=data_root,
        extra_env={
            "LOSS_SEARCH_WEBHOOK_ALLOW_PRIVATE": "true",
            "LOSS_SEARCH_WEBHOOK_FIRST_RETRY_S": "0.5",
            "LOSS_SEARCH_WEBHOOK_POLL_S": "0.2",
            "LOSS_SEARCH_WEBHOOK_PROGRESS_EVERY_S": "1",
            "LOSS_SEARCH_EVENTS_POLL_S": "0.2",
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        },
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


def read_events(
    client: httpx.Client, job_id: str, last_id: int | None, stop_after: int
) -> list[Sse]:
    """Events from the stream, resuming after ``last_id``; the connection is dropped after
    ``stop_after`` events (or at the stream's end)."""
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    events: list[Sse] = []
    with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=120) as r:
        assert r.status_code == 200
        for event in parse(r.iter_lines()):
            events.append(event)
            if len(events) >= stop_after:
                break
    return events


def metric(page: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples with these labels on a Prometheus text page."""
    total = 0.0
    for line in page.splitlines():
        match = re.match(rf"^{name}(\{{.*\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_a_job_streams_its_events_and_sends_signed_webhooks(service: Service) -> None:
    with receiver(fail_first=[500]) as hook, service.client() as client:
        secret = client.get("/v1/webhooks/secret").json()["secret"]
        job: dict[str, Any] = {
            "dataset": "builtin:breast_cancer",
            "metric": "f1",
            "budget": {"n_trials": N_TRIALS},
            "notify": {"url": hook.url, "events": EVENTS},
        }
        created = client.post("/v1/jobs", json=job)
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]

        # The stream, cut after its first three events and resumed from the last one seen.
        head = read_events(client, job_id, None, stop_after=3)
        rest = read_events(client, job_id, head[-1].id, stop_after=10_000)
        wait_for(lambda: job_in(client, job_id, "succeeded"), 180, "the job to succeed")
        wait_for(lambda: hook.of_type("job.succeeded"), 60, "the job.succeeded webhook")
        deliveries = wait_for(lambda: _all_settled(client, job_id), 60, "every delivery")
        page = client.get("/metrics").text

    events = head + rest
    ids = [event.id for event in events]
    assert ids == sorted(set(ids)), "resuming repeated or reordered events"
    assert [e.type for e in events][-1] == "result"
    assert len([e for e in events if e.type == "trial"]) >= N_TRIALS
    assert events[-1].data["best"]["loss"]

    # Every webhook is signed with the tenant's secret, by the spec and by its reference code.
    for request in hook.received:
        assert signature_is_valid(secret, request), request.headers
        Webhook(secret).verify(request.body, request.headers)
    first = hook.received[0]
    assert (first.payload["type"], first.answered) == ("job.started", 500)
    again = [r for r in hook.received[1:] if r.headers["webhook-id"] == first.headers["webhook-id"]]
    assert [r.answered for r in again] == [200]  # sent again: the same message, signed anew
    assert hook.of_type("job.progress"), "no progress webhook"
    succeeded = hook.of_type("job.succeeded")[0].payload["data"]
    assert succeeded["best"]["loss"] == events[-1].data["best"]["loss"]

    assert {d["status"] for d in deliveries} == {"delivered"}
    started = next(d for d in deliveries if d["event"] == "job.started")
    assert [a["status_code"] for a in started["attempts"]] == [500, 200]

    assert metric(page, "loss_search_webhook_deliveries_total", outcome="retry") >= 1
    assert metric(page, "loss_search_webhook_deliveries_total", outcome="delivered") >= 3
    assert metric(page, "loss_search_trial_duration_seconds_count") >= N_TRIALS
    assert metric(page, "loss_search_jobs", status="succeeded") >= 1
    assert metric(page, "loss_search_http_request_duration_seconds_count", route="/v1/jobs") >= 1


def _all_settled(client: httpx.Client, job_id: str) -> list[dict[str, Any]] | None:
    items: list[dict[str, Any]] = client.get(f"/v1/jobs/{job_id}/deliveries").json()["items"]
    return items if items and all(d["status"] != "pending" for d in items) else None
