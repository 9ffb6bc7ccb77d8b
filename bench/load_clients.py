"""The Python clients of ``bench.load``'s storm: job submitters and the /healthz probe.

The submitters POST jobs in a closed loop: 3 bodies in 7 are valid small jobs that must be
accepted (202), the others are refused at validation time in different ways (4xx). wrk cannot
check per request that a body was meant to be refused, hence Python (asyncio + httpx).

The probe asks GET /healthz at a fixed pace whether or not earlier asks were answered (open
loop, like an orchestrator's liveness probe): one hung request must not stop the sampling, as
it would for a closed-loop client. The load both add is small next to the pollers'.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Submission:
    """One request body and whether the service must accept it."""

    name: str
    body: bytes
    valid: bool


def _job(**fields: object) -> bytes:
    return json.dumps(fields).encode()


SMALL = {"n_trials": 2}
# Small valid jobs queue behind the long job; each invalid body fails a different check.
SUBMISSIONS: tuple[Submission, ...] = (
    Submission("builtin", _job(dataset="builtin:breast_cancer", metric="f1", budget=SMALL), True),
    Submission("file", _job(dataset="page_blocks0.csv.gz", metric="recall", budget=SMALL), True),
    Submission("multiclass", _job(dataset="builtin:wine", metric="macro_f1", budget=SMALL), True),
    Submission("metric of another task", _job(dataset="builtin:iris", metric="mae"), False),
    Submission("outside the data roots", _job(dataset="../../etc/passwd", metric="f1"), False),
    Submission(
        "no trials", _job(dataset="builtin:wine", metric="accuracy", budget={"n_trials": 0}), False
    ),
    Submission("malformed JSON", b'{"dataset": "builtin:iris", "metric": ', False),
)


@dataclass(frozen=True)
class Outcome:
    """What became of one POST: its status (None if no response), latency and any job id."""

    valid: bool
    status: int | None
    seconds: float
    job_id: str | None
    failure: str | None  # "timeout" or the transport error's name when there is no status


@dataclass(frozen=True)
class ClientResults:
    """What the submitters and the probe saw."""

    posts: list[Outcome]
    probes: list[Outcome]


def run_clients(
    url: str, submitters: int, duration_s: float, timeout_s: float, probe_every_s: float
) -> ClientResults:
    """Submitters and the probe for ``duration_s``; requests in flight at the end are waited
    for (up to ``timeout_s``), so that every accepted job is known."""
    return asyncio.run(_run(url, submitters, duration_s, timeout_s, probe_every_s))


async def _run(
    url: str, submitters: int, duration_s: float, timeout_s: float, probe_every_s: float
) -> ClientResults:
    results = ClientResults([], [])
    deadline = time.monotonic() + duration_s
    limits = httpx.Limits(max_connections=submitters, max_keepalive_connections=submitters)
    # The probe has its own pool: it must never wait for a submitter's connection.
    async with (
        httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits) as client,
        httpx.AsyncClient(base_url=url, timeout=timeout_s) as prober,
    ):
        await asyncio.gather(
            _probe(prober, probe_every_s, deadline, results.probes),
            *(_submitter(client, offset, deadline, results.posts) for offset in range(submitters)),
        )
    return results


async def _probe(
    client: httpx.AsyncClient, every_s: float, deadline: float, outcomes: list[Outcome]
) -> None:
    asks: list[asyncio.Task[Outcome]] = []
    while time.monotonic() < deadline:
        asks.append(asyncio.create_task(_request(client, "GET", "/healthz", None, True)))
        await asyncio.sleep(every_s)
    outcomes.extend(await asyncio.gather(*asks))


async def _submitter(
    client: httpx.AsyncClient, offset: int, deadline: float, outcomes: list[Outcome]
) -> None:
    # Each client starts at a different place in the list, so the mix is even at any moment.
    index = offset
    while time.monotonic() < deadline:
        submission = SUBMISSIONS[index % len(SUBMISSIONS)]
        outcomes.append(await _post(client, submission))
        index += 1


async def _post(client: httpx.AsyncClient, submission: Submission) -> Outcome:
    return await _request(client, "POST", "/v1/jobs", submission.body, submission.valid)


async def _request(
    client: httpx.AsyncClient, method: str, path: str, body: bytes | None, valid: bool
) -> Outcome:
    """One request, timed; a timeout or a connection error is an outcome, not an exception."""
    headers = {"content-type": "application/json"} if body is not None else None
    started = time.perf_counter()
    try:
        response = await client.request(method, path, content=body, headers=headers)
    except httpx.TimeoutException:
        return Outcome(valid, None, time.perf_counter() - started, None, "timeout")
    except httpx.TransportError as exc:
        return Outcome(valid, None, time.perf_counter() - started, None, type(exc).__name__)
    seconds = time.perf_counter() - started
    job_id = _job_id(response) if response.status_code == 202 else None
    return Outcome(valid, response.status_code, seconds, job_id, None)


def _job_id(response: httpx.Response) -> str | None:
    try:
        value = response.json().get("id")
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0–100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[rank - 1]
