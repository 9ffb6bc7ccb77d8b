"""The real API under uvicorn on a loopback port, for the client to talk to over HTTP, and the
real worker code to run its jobs (in a thread of the test process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from service.client import Standing
from service.main import create_app
from service.settings import Settings
from tests.live_server import Server
from workers.jobs import run_shard

# A job of a few seconds: breast cancer, 4 trials trained as one population, a small
# confirmation without cross-fitting.
SMALL_JOB: dict[str, Any] = {
    "dataset": "builtin:breast_cancer",
    "metric": "f1",
    "budget": {"n_trials": 4},
    "families": ["proxy"],
    "parallelism": {"population_size": 4},
    "confirmation": {"top_k": 1, "seeds": 2, "folds": 0},
}


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """The test settings with a stream that reads the database often and keys trusted at once."""
    return settings.model_copy(update={"events_poll_s": 0.05, "auth_cache_s": 0.0})


@pytest.fixture
def api(fast: Settings) -> Iterator[str]:
    """The URL of the real API (no worker: jobs stay queued until a test runs them)."""
    with Server(create_app(fast)) as url:
        yield url


def run_job(settings: Settings, job_id: str) -> threading.Thread:
    """Start the real worker code on ``job_id`` in a thread, as a worker process would run it."""
    worker = threading.Thread(target=run_shard, args=(job_id, 0, settings), daemon=True)
    worker.start()
    return worker


class Worker:
    """A worker in a thread: ``action`` (by default, the real worker code) is applied to each
    job that appears queued, once. Stop it with :meth:`stop`."""

    def __init__(
        self, settings: Settings, url: str, action: Callable[[str], object] | None = None
    ) -> None:
        self.settings = settings
        self.url = url
        self.action = action or (lambda job_id: run_shard(job_id, 0, settings))
        self.seen: list[str] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self._stop.wait(0.1):
                queued = http.get("/v1/jobs", params={"status": "queued"}).json()["items"]
                for job in queued:
                    if job["id"] not in self.seen:
                        self.seen.append(job["id"])
                        self.action(job["id"])

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=120)


@pytest.fixture
def worker(fast: Settings, api: str) -> Iterator[Worker]:
    """The real worker code running every job submitted to :func:`api`."""
    running = Worker(fast, api)
    yield running
    running.stop()


@dataclass
class Recorder:
    """A progress sink that keeps what it was shown."""

    standings: list[Standing] = field(default_factory=list)
    closed: bool = False

    def update(self, standing: Standing) -> None:
        self.standings.append(standing)

    def close(self) -> None:
        self.closed = True


class Flaky:
    """A front for an app that answers the first ``failures`` requests itself with ``status``
    and ``Retry-After`` — before the app sees them, or (``lose_answer``) after the app has
    answered, as when an answer is lost on the way back — and records every request's headers.
    """

    def __init__(
        self,
        app: ASGIApp,
        failures: int,
        status: int = 503,
        retry_after: str = "1",
        lose_answer: bool = False,
    ) -> None:
        self.app = app
        self.failures = failures
        self.status = status
        self.retry_after = retry_after
        self.lose_answer = lose_answer
        self.requests: list[tuple[str, str, dict[str, str], float]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append((scope["method"], scope["path"], headers, time.monotonic()))
        if len(self.requests) > self.failures:
            return await self.app(scope, receive, send)
        if self.lose_answer:

            async def swallow(message: Any) -> None:
                pass

            await self.app(scope, receive, swallow)
        body = b'{"error":{"type":"unavailable","message":"try again","details":[]}}'
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", self.retry_after.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
