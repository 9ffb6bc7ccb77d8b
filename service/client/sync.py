"""The client for ordinary (blocking) code: :class:`Client` and the :class:`Job` it returns."""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx
from httpx_sse import SSEError, connect_sse

from service.client import calls, connection
from service.client.calls import Call, CodeFormat
from service.client.errors import ApiError, ServiceUnreachable
from service.client.follow import FINAL_VIEW_POLL_S, STREAM_READ_TIMEOUT_S, ProgressSink, Watcher
from service.client.progress import sink_for
from service.client.retries import Retries
from service.schemas import BestOut, JobOut, Page, TrialOut
from service.schemas.datasets import DatasetOut
from service.schemas.jobs import JobSubmission
from service.schemas.reports import ReportOut
from workers.engine.spec import JobSpec

T = TypeVar("T")


class Client:
    """A loss-search service at ``url`` (default: ``LOSS_SEARCH_URL``, else
    http://127.0.0.1:8000), acting with ``api_key`` (default: ``LOSS_SEARCH_API_KEY``).

    Requests answered 429 or 503 are retried as ``retries`` says, honouring ``Retry-After``;
    every other error answer raises :class:`ApiError`, and no answer at all (after the retries)
    :class:`ServiceUnreachable`. ``transport`` replaces the network (an ``httpx.ASGITransport``
    or ``MockTransport``, say). Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout_s: float = connection.TIMEOUT_S,
        retries: Retries | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = connection.base_url(url)
        self.retries = retries or Retries()
        self.http = httpx.Client(
            base_url=self.url,
            headers=connection.headers(api_key),
            timeout=timeout_s,
            transport=transport,
        )

    def submit(
        self,
        request: JobSubmission | JobSpec | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Job:
        """Submit a job: a :class:`JobSubmission` (the body of ``POST /v1/jobs``), a mapping,
        or its fields as keywords (``submit(dataset="builtin:iris", metric="accuracy")``).

        Every call sends an ``Idempotency-Key`` (a new one unless given), which its retries
        reuse: a request retried after a lost answer returns the job it created, not a second.
        """
        body = connection.submission(request, fields)
        key = idempotency_key or connection.idempotency_key()
        return Job(self, self.call(calls.submit(body, key)))

    def job(self, job_id: str) -> Job:
        """The job ``job_id`` (read now)."""
        return Job(self, self.call(calls.job(job_id)))

    def jobs(self, status: str | None = None, limit: int = 50, offset: int = 0) -> Page[JobOut]:
        """One page of jobs, newest first, optionally of one status."""
        return self.call(calls.jobs(status, limit, offset))

    def upload(self, path: str | Path) -> DatasetOut:
        """Upload a data file (CSV, also .gz, .bz2, .xz; Parquet; Arrow/Feather); a job names
        it by the answer's ``reference`` (``dataset:<id>``). The same bytes again return the
        dataset already made."""
        return self.call(calls.upload(Path(path)))

    def call(self, call: Call[T]) -> T:
        """Send ``call``, retrying as :attr:`retries` says, and read its answer."""
        try:
            answer: T = self.retries.sync(call.replayable)(self._send, call)
            return answer
        except httpx.TransportError as exc:
            raise ServiceUnreachable(f"no answer from {self.url}: {exc}") from exc

    def _send(self, call: Call[T]) -> T:
        with ExitStack() as files:
            # Opened per attempt: a retried upload sends the file from its start.
            file = files.enter_context(call.upload.open("rb")) if call.upload else None
            return call.answer(self.http.send(call.request(self.http, file)))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Job:
    """A submitted job. :attr:`view` is its state as last read (:meth:`refresh` reads it)."""

    def __init__(self, client: Client, view: JobOut) -> None:
        self.client = client
        self.view = view
        self.id = view.id

    def refresh(self) -> JobOut:
        """Read the job's state now."""
        self.view = self.client.call(calls.job(self.id))
        return self.view

    def wait(self, progress: bool | ProgressSink = False, poll_s: float = 2.0) -> JobOut:
        """Block until the job has ended (succeeded, failed or cancelled) and return its view.

        Progress comes from the job's event stream, resumed with ``Last-Event-ID`` when the
        connection drops; from polling every ``poll_s`` seconds where the service has no stream
        (or it keeps breaking). ``progress=True`` shows a bar on standard error; a
        :class:`~service.client.follow.ProgressSink` receives every update instead.
        """
        if self.refresh().status.is_final:
            return self.view
        sink = sink_for(progress)
        try:
            watcher = Watcher(self.view, sink)
            self._follow_events(watcher)
            while not watcher.done:
                time.sleep(poll_s)
                watcher.polled(self.refresh())
        finally:
            sink.close()
        # The view may lag the stream's last event by the API's read cache (half a second).
        while not (self.refresh()).status.is_final:
            time.sleep(FINAL_VIEW_POLL_S)
        return self.view

    def _follow_events(self, watcher: Watcher) -> None:
        """Feed ``watcher`` from the event stream until the job ends or the stream is given up."""
        timeout = httpx.Timeout(connection.TIMEOUT_S, read=STREAM_READ_TIMEOUT_S)
        path = calls.events_path(self.id)
        while not watcher.done:
            error: ApiError | None = None
            try:
                with connect_sse(
                    self.client.http, "GET", path, headers=watcher.resume_headers(), timeout=timeout
                ) as source:
                    if source.response.is_error:
                        source.response.read()
                        error = ApiError.from_response(source.response)
                    else:
                        for event in source.iter_sse():
                            watcher.event(event.event, event.id or None, event.data)
                            if watcher.done:
                                return
            except (httpx.TransportError, SSEError):
                pass  # cut or garbled: resume after the last event seen
            pause = watcher.dropped(error)
            if pause is None:
                return
            time.sleep(pause)

    def trials(
        self,
        sort: Literal["number", "value"] = "number",
        order: Literal["asc", "desc"] | None = None,
    ) -> list[TrialOut]:
        """Every trial so far (``sort="value"``: the best first), page after page."""
        items: list[TrialOut] = []
        while True:
            page = self.client.call(calls.trials(self.id, sort, order, len(items)))
            items.extend(page.items)
            if not page.items or len(items) >= page.total:
                return items

    def best(self) -> BestOut:
        """The best setup and its comparison with the baseline (provisional while it runs)."""
        return self.client.call(calls.best(self.id))

    def code(self, fmt: CodeFormat = "pytorch") -> str:
        """The best loss as code to paste: ``pytorch`` or ``keras``."""
        return self.client.call(calls.code(self.id, fmt))

    def report(self) -> ReportOut:
        """Everything about the search and its result, as the review page shows it."""
        return self.client.call(calls.report(self.id))

    def cancel(self) -> JobOut:
        """Cancel the job: at once if queued, at the next trial boundary if running."""
        self.view = self.client.call(calls.cancel(self.id))
        return self.view
