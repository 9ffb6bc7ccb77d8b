"""Following a job to its end, with no I/O: what its events or its polled views say, where to
resume the stream, and when to give the stream up for polling.

The sync and async ``wait`` feed a :class:`Watcher` (from ``GET /v1/jobs/{id}/events``, or from
``GET /v1/jobs/{id}`` when there is no stream) and stop once it says the job is done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import replace as _with
from typing import Literal, Protocol

from service.client.errors import ApiError
from service.client.retries import RETRIED_STATUSES
from service.schemas import JobOut

# A stream cut this many times in a row with no event in between is given up for polling.
MAX_DROPS = 3
# Between reconnections, unless the service said how long (Retry-After).
RECONNECT_S = 1.0
# The stream sends a ping while quiet (every 15 s by default): silence this long is a dead
# connection, not a quiet job.
STREAM_READ_TIMEOUT_S = 60.0
# How often to read a job whose stream said it ended until its view says so too.
FINAL_VIEW_POLL_S = 0.1
# Statuses of an events request that mean "this service has no such stream": poll instead.
# (The job itself was read just before, so a 404 is the route, not the job.)
_NO_STREAM = frozenset({404, 405, 501})


@dataclass(frozen=True)
class Standing:
    """Where a followed job stands: what a progress bar shows."""

    job_id: str
    status: str
    finished: int
    total: int
    best: float | None
    best_loss: str | None
    source: Literal["events", "polling"]

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")


class ProgressSink(Protocol):
    """Whatever shows a followed job's progress (see :mod:`service.client.progress`)."""

    def update(self, standing: Standing) -> None: ...

    def close(self) -> None: ...


class Watcher:
    """A job's standing, kept up to date from its events or its polled views."""

    def __init__(self, job: JobOut, sink: ProgressSink) -> None:
        self.job_id = job.id
        self.sink = sink
        self.maximize = job.direction == "maximize"
        self.last_event_id: str | None = None
        self.drops = 0
        self.standing = _from_view(job)
        self.done = False  # the stream's last event (result) arrived, or a view was final
        sink.update(self.standing)

    def resume_headers(self) -> dict[str, str]:
        """Headers that resume the stream right after the last event seen."""
        return {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}

    def event(self, kind: str, event_id: str | None, data: str) -> None:
        """One server-sent event (``status``, ``trial``, ``progress``, ``result``)."""
        if event_id:
            self.last_event_id = event_id
        self.drops = 0  # the stream works
        payload = json.loads(data) if data else {}
        now = self.standing
        if kind == "status":
            now = _with(now, status=payload["status"])
        elif kind == "trial" and payload.get("state") == "complete":
            now = self._better(now, payload.get("value"), payload.get("loss"))
        elif kind == "progress":
            now = _with(now, finished=payload["finished"], total=payload["total"])
        elif kind == "result":
            self.done = True
        self._show(_with(now, source="events"))

    def polled(self, job: JobOut) -> None:
        """A view of the job read by polling."""
        self.done = job.status.is_final
        self._show(_from_view(job))

    def dropped(self, error: ApiError | None = None) -> float | None:
        """The stream broke (``error``: the service refused it). How long to wait before
        reconnecting, or None: poll from now on. Raises ``error`` if retrying cannot help."""
        if error is not None and error.status in _NO_STREAM:
            return None
        if error is not None and error.status not in RETRIED_STATUSES:
            raise error
        self.drops += 1
        if self.drops >= MAX_DROPS:
            return None
        told = error.retry_after if error is not None else None
        return told if told is not None else RECONNECT_S

    def _better(self, now: Standing, value: float | None, loss: str | None) -> Standing:
        if value is None:
            return now
        if now.best is None or (value > now.best if self.maximize else value < now.best):
            return _with(now, best=value, best_loss=loss)
        return now

    def _show(self, standing: Standing) -> None:
        self.standing = standing
        self.sink.update(standing)


def _from_view(job: JobOut) -> Standing:
    return Standing(
        job_id=job.id,
        status=job.status.value,
        finished=job.progress.finished,
        total=job.progress.planned,
        best=job.best.value if job.best else None,
        best_loss=job.best.loss if job.best else None,
        source="polling",
    )


class NoProgress:
    """A sink that shows nothing."""

    def update(self, standing: Standing) -> None:
        pass

    def close(self) -> None:
        pass
