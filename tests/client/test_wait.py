"""``Job.wait``: it follows the job's event stream, resumes it after a cut with
``Last-Event-ID``, and polls the job where the service has no stream."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.client import Client
from service.db.models import JobStatus
from service.main import create_app
from service.settings import Settings
from tests.client.conftest import SMALL_JOB, Recorder, Worker
from tests.live_server import Server


class CutFirstStream:
    """A front for an app that ends the first event stream after ``events`` events, as a proxy
    or a flaky network would, and records the headers of every stream request."""

    def __init__(self, app: ASGIApp, events: int) -> None:
        self.app = app
        self.events = events
        self.streams: list[dict[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/events"):
            return await self.app(scope, receive, send)
        self.streams.append({k.decode().lower(): v.decode() for k, v in scope["headers"]})
        if len(self.streams) > 1:
            return await self.app(scope, receive, send)
        sent = 0

        async def cutting(message: Message) -> None:
            nonlocal sent
            if sent >= self.events:
                return  # cut: the client has seen the end of the response
            if message["type"] == "http.response.body":
                sent += message.get("body", b"").count(b"event:")
                if sent >= self.events:
                    message = {**message, "more_body": False}
            await send(message)

        await self.app(scope, receive, cutting)


class WithoutEvents:
    """A front for an app that answers its event streams as the API answers a route it does not
    have (a 404 in the one error shape): a service from before the stream."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/events"):
            return await self.app(scope, receive, send)
        body = b'{"error":{"type":"not_found","message":"Not Found","details":[]}}'
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def test_wait_follows_the_event_stream_to_the_end(api: str, worker: Worker) -> None:
    recorder = Recorder()
    with Client(api) as client:
        job = client.submit(SMALL_JOB)
        ended = job.wait(progress=recorder)
    assert ended.status is JobStatus.SUCCEEDED
    assert ended.progress.finished == 4
    assert recorder.closed
    assert recorder.standings[0].source == "polling"  # the view read before the stream
    streamed = recorder.standings[1:]
    assert {s.source for s in streamed} == {"events"}
    finished = [s.finished for s in streamed]
    assert finished == sorted(finished)
    assert finished[-1] == 4
    assert streamed[-1].status == "succeeded"
    assert streamed[-1].best is not None


def test_wait_resumes_a_cut_stream_after_the_last_event_it_saw(fast: Settings) -> None:
    front = CutFirstStream(create_app(fast), events=3)  # queued, running, trial 0
    with Server(front) as url, Client(url) as client:
        worker = Worker(fast, url)
        try:
            recorder = Recorder()
            job = client.submit(SMALL_JOB)
            assert job.wait(progress=recorder).status is JobStatus.SUCCEEDED
        finally:
            worker.stop()
    assert len(front.streams) == 2
    assert "last-event-id" not in front.streams[0]
    assert front.streams[1]["last-event-id"] == "3"  # trial 0's event: its progress comes next
    finished = [s.finished for s in recorder.standings if s.source == "events"]
    assert finished == sorted(finished)
    assert finished[-1] == 4


def test_wait_polls_a_service_without_an_event_stream(fast: Settings) -> None:
    with Server(WithoutEvents(create_app(fast))) as url, Client(url) as client:
        worker = Worker(fast, url)
        try:
            recorder = Recorder()
            job = client.submit(SMALL_JOB)
            assert job.wait(progress=recorder, poll_s=0.2).status is JobStatus.SUCCEEDED
        finally:
            worker.stop()
    assert {s.source for s in recorder.standings} == {"polling"}
    assert recorder.standings[-1].status == "succeeded"
    assert recorder.standings[-1].finished == 4
