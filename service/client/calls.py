"""The API's calls as data: what to send and how to read the answer, with no I/O.

The sync and async clients both execute these :class:`Call` objects (each with its own httpx
client and tenacity loop), so what a request looks like and how its answer is read is written
once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from service.client.errors import ApiError
from service.schemas import BestOut, JobOut, Page, TrialOut
from service.schemas.datasets import DatasetOut
from service.schemas.jobs import JobSubmission
from service.schemas.reports import ReportOut

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

CodeFormat = Literal["pytorch", "keras"]
IDEMPOTENCY_HEADER = "Idempotency-Key"
PAGE_LIMIT = 500  # the most the API serves per page


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and the reader of its (successful) answer."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: dict[str, str | int] | None = None
    body: Any = None  # sent as JSON
    headers: dict[str, str] | None = None
    upload: Path | None = None  # sent as the multipart field "file"
    # Whether sending it twice is harmless, so a connection cut mid-request may be retried.
    replayable: bool = True

    def request(
        self, http: httpx.Client | httpx.AsyncClient, file: IO[bytes] | None = None
    ) -> httpx.Request:
        """The request, on ``http``'s base URL and headers; ``file`` is the opened upload."""
        files = {"file": (self.upload.name, file)} if self.upload and file else None
        return http.build_request(
            self.method,
            self.path,
            params=self.params,
            json=self.body,
            headers=self.headers,
            files=files,
        )

    def answer(self, response: httpx.Response) -> T:
        """The answer's value, or the :class:`ApiError` it carries."""
        if response.is_error:
            raise ApiError.from_response(response)
        return self.read(response)


def model(kind: type[M]) -> Callable[[httpx.Response], M]:
    """A reader of a JSON answer into ``kind``."""
    return lambda response: kind.model_validate_json(response.content)


def job_path(job_id: str, *rest: str) -> str:
    # Quoted: an id typed on a command line must not reach another route ("../datasets").
    return "/".join(["/v1/jobs", quote(job_id, safe=""), *rest])


def submit(request: JobSubmission, idempotency_key: str) -> Call[JobOut]:
    # exclude_unset: the service fills in its own defaults, and the body is the same bytes on
    # every retry, so the idempotency key's fingerprint matches.
    body = request.model_dump(mode="json", exclude_unset=True)
    headers = {IDEMPOTENCY_HEADER: idempotency_key}
    return Call("POST", "/v1/jobs", model(JobOut), body=body, headers=headers)


def job(job_id: str) -> Call[JobOut]:
    return Call("GET", job_path(job_id), model(JobOut))


def jobs(status: str | None, limit: int, offset: int) -> Call[Page[JobOut]]:
    params: dict[str, str | int] = {"limit": limit, "offset": offset}
    if status:
        params["status"] = status
    return Call("GET", "/v1/jobs", model(Page[JobOut]), params=params)


def trials(
    job_id: str, sort: Literal["number", "value"], order: Literal["asc", "desc"] | None, offset: int
) -> Call[Page[TrialOut]]:
    params: dict[str, str | int] = {"sort": sort, "limit": PAGE_LIMIT, "offset": offset}
    if order:
        params["order"] = order
    return Call("GET", job_path(job_id, "trials"), model(Page[TrialOut]), params=params)


def best(job_id: str) -> Call[BestOut]:
    return Call("GET", job_path(job_id, "best"), model(BestOut))


def code(job_id: str, fmt: CodeFormat) -> Call[str]:
    """The best setup's code (``text/x-python``); a 409 ``code_unavailable`` when the job's
    result predates that format."""
    return Call("GET", job_path(job_id, "best"), _code, params={"format": fmt})


def _code(response: httpx.Response) -> str:
    if response.headers.get("content-type", "").startswith("application/json"):
        # A service from before code export ignores ?format and sends the JSON result.
        raise ApiError(
            501, "code_unavailable", "this service does not export code (it predates ?format)"
        )
    return response.text


def report(job_id: str) -> Call[ReportOut]:
    return Call("GET", job_path(job_id, "report"), model(ReportOut))


def cancel(job_id: str) -> Call[JobOut]:
    # Not replayed after a cut connection: a second cancel of a queued job answers 409
    # ("already finished"), which would hide that the first one worked.
    return Call("POST", job_path(job_id, "cancel"), model(JobOut), replayable=False)


def upload(path: Path) -> Call[DatasetOut]:
    # The same bytes again return the same dataset: replaying an upload is harmless.
    return Call("POST", "/v1/datasets", model(DatasetOut), upload=path)


def events_path(job_id: str) -> str:
    return job_path(job_id, "events")
