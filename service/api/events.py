"""``GET /v1/jobs/{job_id}/events``: a job's live progress as Server-Sent Events.

The stream polls the database every ``LOSS_SEARCH_EVENTS_POLL_S`` (the workers write each trial
as it finishes) and sends what changed; :mod:`service.job_events` says which events there are
and how their ids make ``Last-Event-ID`` resume exactly after the last one seen. Like the other
routes of one job, another tenant's job is the unknown-job 404.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from service.api.auth import owned_job
from service.api.deps import DatabaseDep, SettingsDep
from service.db import jobs as repo
from service.db import reads
from service.db.models import JobStatus
from service.errors import not_found
from service.job_events import Event, JobEvents, resume_point
from service.results import result_summary
from service.schemas import ErrorResponse

router = APIRouter(prefix="/v1/jobs/{job_id}", tags=["jobs"], dependencies=[Depends(owned_job)])

_DESCRIPTION = """\
Each event is `event: <type>`, `id: <n>` and one line of JSON `data`:

- `status` — `{"status", "at"}`: queued, running, then succeeded, failed or cancelled (with
  `error`);
- `trial` — one per finished trial: `{"number", "state", "arm", "family", "loss", "value",
  "finished_at", "failure_reason"}`, in trial-number order;
- `progress` — after each trial: `{"finished", "total", "by_state"}` (lost trials are run again
  and do not count against the budget);
- `result` — last, once the job has ended: the `/best` summary (`loss`, `family`, `verdict`,
  `summary`, …) or the error; then the stream ends.

Ids grow within a job and are the same on every request and every API process: send the last
one you saw back as `Last-Event-ID` (a browser's `EventSource` does so when it reconnects) or as
`?last_event_id=` and the stream resumes right after it. A `: ping` comment is sent while
nothing happens, so proxies keep the connection open. A trial is sent once every trial numbered
below it has finished. Close an `EventSource` on the `result` event, or it reconnects.
"""


# Event ids are at most a few billion (see service.job_events); the bound keeps any id a client
# sends comparable in every database's integer column.
MAX_EVENT_ID = 10**18


def _last_id(header: str | None, query: int | None) -> int:
    if query is not None:
        return query
    return int(header) if header else 0


async def _start(
    job_id: str,
    db: DatabaseDep,
    last_event_id: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_EVENT_ID,
            description="Resume after this event (for clients that cannot set headers).",
        ),
    ] = None,
    last_event_id_header: Annotated[
        str,
        Header(
            alias="Last-Event-ID",
            pattern=r"^[0-9]{0,18}$",
            description="Resume after this event (what EventSource sends): an event's id.",
        ),
    ] = "",
) -> JobEvents:
    """Where the stream starts; the checks happen here, before the response has begun."""
    after = _last_id(last_event_id_header, last_event_id)
    async with db.reads() as connection:
        if await reads.job_fields(connection, job_id) is None:
            raise not_found("job", job_id)
        first = resume_point(after)
        before = await reads.states_before(connection, job_id, first) if first else {}
    return JobEvents.after(job_id, after, before)


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={
        200: {"description": "The job's events, until it ends."},
        404: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        503: {"model": ErrorResponse},  # the database is down or every connection is busy
    },
    description=_DESCRIPTION,
)
async def job_events(
    db: DatabaseDep, settings: SettingsDep, stream: Annotated[JobEvents, Depends(_start)]
) -> AsyncIterator[ServerSentEvent]:
    """Live progress of a job as Server-Sent Events: status changes, trials, progress and the
    result, resumable with ``Last-Event-ID``."""
    quiet_since = time.monotonic()
    while True:
        for event in await _poll(db, stream):
            quiet_since = time.monotonic()
            yield _sse(event)
        if stream.ended:
            break
        if time.monotonic() - quiet_since >= settings.events_keepalive_s:
            quiet_since = time.monotonic()
            yield ServerSentEvent(comment="ping")
        await anyio.sleep(settings.events_poll_s)
    result = await anyio.to_thread.run_sync(_result, db, stream.job_id)
    for event in stream.result(result):
        yield _sse(event)


async def _poll(db: DatabaseDep, stream: JobEvents) -> list[Event]:
    async with db.reads() as connection:
        job = await reads.job_fields(connection, stream.job_id)  # the job first: see poll()
        if job is None:  # deleted while streamed
            stream.ended = True
            return []
        trials = await reads.trials_from(connection, stream.job_id, stream.next_trial)
    return list(stream.poll(job, trials))


def _result(db: DatabaseDep, job_id: str) -> dict[str, Any]:
    """The /best summary of a succeeded job; the status and error of any other."""
    with db.session() as session:
        row = repo.get_job(session=session, job_id=job_id)
        if row is None:
            return {"status": None, "error": f"job {job_id} no longer exists", "best": None}
        if row.status != JobStatus.SUCCEEDED.value or not row.result:
            return {"status": row.status, "error": row.error, "best": None}
        return {"status": row.status, "error": None, "best": result_summary(row)}


def _sse(event: Event) -> ServerSentEvent:
    return ServerSentEvent(id=str(event.id), event=event.type, data=event.data)
