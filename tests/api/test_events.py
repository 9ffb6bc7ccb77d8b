"""GET /v1/jobs/{id}/events: a job's live progress as Server-Sent Events, read with real
streaming clients (the test client's streaming transport, and httpx against a real uvicorn
server) while the real worker code runs the job."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from service.db import jobs as jobs_repo
from service.db.session import session_scope
from service.job_events import FINAL_ID, RESULT_ID, JobEvents, trial_id
from service.main import create_app
from service.settings import Settings
from tests.api.keys import bearer, issue_key
from tests.live_server import Server
from workers.engine.spec import Budget, Confirmation, Family, JobSpec, MetricRef, Parallelism, Task
from workers.jobs import run_shard

N_TRIALS = 6


@dataclass(frozen=True)
class Sse:
    """One event as a client reads it off the wire."""

    id: int
    type: str
    data: dict[str, Any]
    at: float = 0.0  # when it arrived (time.time()); not compared

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sse) and (self.id, self.type, self.data) == (
            other.id,
            other.type,
            other.data,
        )

    def __hash__(self) -> int:
        return hash((self.id, self.type))


def parse(lines: Iterable[str], comments: list[str] | None = None) -> Iterator[Sse]:
    """Events from the lines of a ``text/event-stream`` (the WHATWG parsing rules we need)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if fields:
                data = json.loads(fields["data"])
                yield Sse(int(fields["id"]), fields["event"], data, time.time())
            fields = {}
        elif line.startswith(":"):
            if comments is not None:
                comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(update={"events_poll_s": 0.05, "auth_cache_s": 0.0})


def submit(settings: Settings, tenant: str | None = None) -> str:
    spec = JobSpec(
        dataset="builtin:breast_cancer",
        task=Task.BINARY,
        metric=MetricRef(name="f1"),
        budget=Budget(n_trials=N_TRIALS),
        families=[Family.PROXY, Family.WEIGHTED],
        parallelism=Parallelism(population_size=3),
        confirmation=Confirmation(top_k=2, seeds=2, seeds_per_fold=2),
    )
    with session_scope(settings.resolved_database_url) as session:
        row, _ = jobs_repo.create_job(
            session=session, spec=spec, tenant=tenant or settings.default_tenant
        )
        return row.id


@pytest.fixture
def finished_job(fast: Settings) -> str:
    job_id = submit(fast)
    run_shard(job_id, 0, fast)
    return job_id


def stream(client: TestClient, job_id: str, **kwargs: Any) -> list[Sse]:
    with client.stream("GET", f"/v1/jobs/{job_id}/events", **kwargs) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(parse(response.iter_lines()))


def test_a_finished_jobs_stream_tells_the_whole_story_then_ends(
    fast: Settings, finished_job: str
) -> None:
    with TestClient(create_app(fast)) as client:
        events = stream(client, finished_job)
        best = client.get(f"/v1/jobs/{finished_job}/best").json()
        trials = client.get(f"/v1/jobs/{finished_job}/trials").json()["items"]
    ids = [event.id for event in events]
    assert ids == sorted(set(ids))  # strictly increasing
    assert [e.data["status"] for e in events if e.type == "status"] == [
        "queued",
        "running",
        "succeeded",
    ]
    sent = [e.data for e in events if e.type == "trial"]
    assert [t["number"] for t in sent] == list(range(N_TRIALS))
    for event, trial in zip(sent, trials, strict=True):
        expected = {k: trial[k] for k in ("number", "state", "family", "loss", "value")}
        assert {k: event[k] for k in expected} == expected
    progress = [e.data for e in events if e.type == "progress"]
    assert [p["finished"] for p in progress] == list(range(1, N_TRIALS + 1))
    assert {p["total"] for p in progress} == {N_TRIALS}
    assert (events[-2].id, events[-1].id) == (FINAL_ID, RESULT_ID)
    result = events[-1].data
    assert events[-1].type == "result"
    assert result["status"] == "succeeded"
    assert result["best"]["loss"] == best["best"]["loss"]
    assert result["best"]["verdict"] == best["comparison"]["verdict"]
    assert result["best"]["summary"] == best["comparison"]["summary"]


def test_last_event_id_resumes_right_after_it_without_repeats_or_gaps(
    fast: Settings, finished_job: str
) -> None:
    with TestClient(create_app(fast)) as client:
        events = stream(client, finished_job)
        for i, event in enumerate(events):
            resumed = stream(client, finished_job, headers={"Last-Event-ID": str(event.id)})
            assert resumed == events[i + 1 :], event
        # A browser's EventSource cannot set headers on its first request: the query does it.
        middle = events[len(events) // 2]
        by_query = stream(client, finished_job, params={"last_event_id": middle.id})
        assert by_query == events[len(events) // 2 + 1 :]
        bad = client.get(f"/v1/jobs/{finished_job}/events", headers={"Last-Event-ID": "x"})
        assert bad.status_code == 422
        assert bad.json()["error"]["details"][0]["loc"] == ["header", "Last-Event-ID"]
    # The ids come from the database, not from the process: another API process (or this one
    # restarted) resumes the same way.
    with TestClient(create_app(fast)) as restarted:
        resumed = stream(restarted, finished_job, headers={"Last-Event-ID": str(events[4].id)})
    assert resumed == events[5:]


def test_a_job_cancelled_while_queued_streams_its_two_statuses_and_ends(fast: Settings) -> None:
    job_id = submit(fast)
    with TestClient(create_app(fast)) as client:
        assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 202
        events = stream(client, job_id)
    assert [(e.id, e.type) for e in events] == [
        (1, "status"),
        (FINAL_ID, "status"),
        (RESULT_ID, "result"),
    ]
    assert events[1].data["status"] == "cancelled"
    assert events[2].data == {"status": "cancelled", "error": None, "best": None}


def test_a_stream_opened_on_a_running_job_delivers_trials_as_they_land(fast: Settings) -> None:
    job_id = submit(fast)
    with Server(create_app(fast)) as url, httpx.Client(base_url=url, timeout=60) as http:
        worker = threading.Thread(target=run_shard, args=(job_id, 0, fast))
        with http.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            first = next(parse(lines))
            assert first.data["status"] == "queued"  # nothing has run yet
            worker.start()
            live = [first, *parse(lines)]
        worker.join()
        # Read again once the job has ended: the same events, with the same ids.
        with http.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            replay = list(parse(response.iter_lines()))
    assert live == replay
    assert [e.data["status"] for e in live if e.type == "status"][-1] == "succeeded"
    assert live[-1].type == "result"
    ended = datetime.fromisoformat(live[-2].data["at"]).timestamp()
    trials = [e for e in live if e.type == "trial"]
    assert len(trials) == N_TRIALS
    # The trials came while the job ran (confirmation and the test scoring come after them).
    assert trials[0].at < ended, (trials[0].at, ended)


def test_a_quiet_stream_sends_keep_alive_comments(fast: Settings) -> None:
    quiet = fast.model_copy(update={"events_keepalive_s": 0.1})
    job_id = submit(quiet)  # no worker: it stays queued
    with (
        TestClient(create_app(quiet)) as client,
        client.stream("GET", f"/v1/jobs/{job_id}/events") as response,
    ):
        lines = response.iter_lines()
        assert next(parse(lines)).data["status"] == "queued"
        assert next(line for line in lines if line.startswith(":")) == ": ping"


def test_unknown_jobs_other_tenants_and_missing_keys(fast: Settings) -> None:
    a, b = issue_key(fast, "team-a"), issue_key(fast, "team-b")
    job_id = submit(fast, tenant="team-a")
    with TestClient(create_app(fast)) as client:
        path = f"/v1/jobs/{job_id}/events"
        unknown = client.get("/v1/jobs/no-such-job/events", headers=bearer(a))
        assert unknown.status_code == 404
        assert unknown.json() == {
            "error": {"type": "not_found", "message": "no job with id 'no-such-job'", "details": []}
        }
        other = client.get(path, headers=bearer(b))
        assert other.status_code == 404
        assert other.json()["error"]["message"] == f"no job with id {job_id!r}"
        missing = client.get(path)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="loss-search"'
        with client.stream("GET", path, headers=bearer(a)) as own:
            assert own.status_code == 200
            assert next(parse(own.iter_lines())).data["status"] == "queued"


def _trial(number: int, state: str) -> SimpleNamespace:
    return SimpleNamespace(
        number=number,
        state=state,
        arm="search",
        family="proxy",
        loss="focal",
        value=0.5,
        finished_at=None,
        failure_reason=None,
    )


def _job(status: str) -> SimpleNamespace:
    now = datetime.now(UTC)
    started = None if status == "queued" else now
    final = status in ("succeeded", "failed", "cancelled")
    return SimpleNamespace(
        status=status,
        created_at=now,
        started_at=started,
        finished_at=now if final else None,
        error=None,
        trial_budget=4,
    )


def test_trials_that_finish_out_of_order_are_held_back_so_ids_only_grow() -> None:
    log = JobEvents.after("job", 0, {})
    running = _job("running")
    # Trial 1 finished before trial 0, and trial 3 has a row before trial 2 has one.
    first = list(log.poll(running, [_trial(0, "running"), _trial(1, "complete")]))
    assert [e.type for e in first] == ["status", "status"]
    second = list(log.poll(running, [_trial(0, "pruned"), _trial(1, "complete")]))
    assert [e.id for e in second] == [trial_id(0), trial_id(0) + 1, trial_id(1), trial_id(1) + 1]
    assert list(log.poll(running, [_trial(3, "complete")])) == []
    ended = _job("failed")
    last = list(log.poll(ended, [_trial(2, "waiting"), _trial(3, "complete")]))
    assert [(e.id, e.type) for e in last] == [
        (trial_id(3), "trial"),
        (trial_id(3) + 1, "progress"),
        (FINAL_ID, "status"),
    ]
    assert last[1].data == {"finished": 3, "total": 4, "by_state": {"complete": 2, "pruned": 1}}
    assert log.ended
