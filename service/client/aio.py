"""The client for ``async`` code: :class:`AsyncClient` and :class:`AsyncJob`, the same calls as
:mod:`service.client.sync` (built and read by :mod:`service.client.calls`, followed by
:mod:`service.client.follow`), awaited."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import anyio
import httpx
from httpx_sse import SSEError, aconnect_sse

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


class AsyncClient:
    """:class:`~service.client.sync.Client` for ``async`` code (``async with AsyncClient(...)``)."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout_s: float = connection.TIMEOUT_S,
        retries: Retries | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = connection.base_url(url)
        self.retries = retries or Retries()
        self.http = httpx.AsyncClient(
            base_url=self.url,
            headers=connection.headers(api_key),
            timeout=timeout_s,
            transport=transport,
        )

    async def submit(
        self,
        request: JobSubmission | JobSpec | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> AsyncJob:
        """Submit a job (see :meth:`service.client.sync.Client.submit`)."""
        body = connection.submission(request, fields)
        key = idempotency_key or connection.idempotency_key()
        return AsyncJob(self, await self.call(calls.submit(body, key)))

    async def job(self, job_id: str) -> AsyncJob:
        """The job ``job_id`` (read now)."""
        return AsyncJob(self, await self.call(calls.job(job_id)))

    async def jobs(
        self, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[JobOut]:
        """One page of jobs, newest first, optionally of one status."""
        return await self.call(calls.jobs(status, limit, offset))

    async def upload(self, path: str | Path) -> DatasetOut:
        """Upload a data file; a job names it by the answer's ``reference``."""
        return await self.call(calls.upload(Path(path)))

    async def call(self, call: Call[T]) -> T:
        """Send ``call``, retrying as :attr:`retries` says, and read its answer."""
        try:
            return await self.retries.asynchronous(call.replayable)(self._send, call)
        except httpx.TransportError as exc:
            raise ServiceUnreachable(f"no answer from {self.url}: {exc}") from exc

    async def _send(self, call: Call[T]) -> T:
        with ExitStack() as files:
            # httpx streams a plain file in async bodies too; opened per attempt (see sync).
            file = files.enter_context(call.upload.open("rb")) if call.upload else None
            return call.answer(await self.http.send(call.request(self.http, file)))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class AsyncJob:
    """:class:`~service.client.sync.Job` for ``async`` code."""

    def __init__(self, client: AsyncClient, view: JobOut) -> None:
        self.client = client
        self.view = view
        self.id = view.id

    async def refresh(self) -> JobOut:
        """Read the job's state now."""
        self.view = await self.client.call(calls.job(self.id))
        return self.view

    async def wait(self, progress: bool | ProgressSink = False, poll_s: float = 2.0) -> JobOut:
        """Wait until the job has ended (see :meth:`service.client.sync.Job.wait`)."""
        if (await self.refresh()).status.is_final:
            return self.view
        sink = sink_for(progress)
        try:
            watcher = Watcher(self.view, sink)
            await self._follow_events(watcher)
            while not watcher.done:
                await anyio.sleep(poll_s)
                watcher.polled(await self.refresh())
        finally:
            sink.close()
        # The view may lag the stream's last event by the API's read cache (half a second).
        while not (await self.refresh()).status.is_final:
            await anyio.sleep(FINAL_VIEW_POLL_S)
        return self.view

    async def _follow_events(self, watcher: Watcher) -> None:
        timeout = httpx.Timeout(connection.TIMEOUT_S, read=STREAM_READ_TIMEOUT_S)
        path = calls.events_path(self.id)
        while not watcher.done:
            error: ApiError | None = None
            try:
                async with aconnect_sse(
                    self.client.http, "GET", path, headers=watcher.resume_headers(), timeout=timeout
                ) as source:
                    if source.response.is_error:
                        await source.response.aread()
                        error = ApiError.from_response(source.response)
                    else:
                        async for event in source.aiter_sse():
                            watcher.event(event.event, event.id or None, event.data)
                            if watcher.done:
                                return
            except (httpx.TransportError, SSEError):
                pass  # cut or garbled: resume after the last event seen
            pause = watcher.dropped(error)
            if pause is None:
                return
            await anyio.sleep(pause)

    async def trials(
        self,
        sort: Literal["number", "value"] = "number",
        order: Literal["asc", "desc"] | None = None,
    ) -> list[TrialOut]:
        """Every trial so far (``sort="value"``: the best first), page after page."""
        items: list[TrialOut] = []
        while True:
            page = await self.client.call(calls.trials(self.id, sort, order, len(items)))
            items.extend(page.items)
            if not page.items or len(items) >= page.total:
                return items

    async def best(self) -> BestOut:
        """The best setup and its comparison with the baseline."""
        return await self.client.call(calls.best(self.id))

    async def code(self, fmt: CodeFormat = "pytorch") -> str:
        """The best loss as code: ``pytorch`` or ``keras``."""
        return await self.client.call(calls.code(self.id, fmt))

    async def report(self) -> ReportOut:
        """Everything about the search and its result."""
        return await self.client.call(calls.report(self.id))

    async def cancel(self) -> JobOut:
        """Cancel the job: at once if queued, at the next trial boundary if running."""
        self.view = await self.client.call(calls.cancel(self.id))
        return self.view
