"""Where the service is and how to present oneself: shared by the sync and async clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from service.schemas.jobs import JobSubmission
from workers.engine.spec import JobSpec

URL_ENV = "LOSS_SEARCH_URL"
API_KEY_ENV = "LOSS_SEARCH_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8000"  # where `loss-search up` listens by default
TIMEOUT_S = 30.0


def base_url(url: str | None) -> str:
    """``url``, else ``LOSS_SEARCH_URL``, else the local default; without a trailing slash."""
    return (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")


def headers(api_key: str | None) -> dict[str, str]:
    """The headers of every request: the API key (``api_key``, else ``LOSS_SEARCH_API_KEY``),
    and who is asking."""
    key = api_key or os.environ.get(API_KEY_ENV)
    sent = {"User-Agent": f"loss-search-client/{_version()}"}
    if key:
        sent["Authorization"] = f"Bearer {key}"
    return sent


def submission(
    request: JobSubmission | JobSpec | Mapping[str, Any] | None, fields: Mapping[str, Any]
) -> JobSubmission:
    """The job to submit: a model, a mapping, keyword fields, or a mapping with fields added.
    Validated here, so a malformed job fails before any request (pydantic's ValidationError)."""
    if isinstance(request, JobSubmission) and not fields:
        return request
    if isinstance(request, JobSpec):
        # exclude_unset: the defaults are the service's to fill in, as for a mapping
        request = request.model_dump(mode="json", exclude_unset=True)
    return JobSubmission.model_validate({**(request or {}), **fields})


def idempotency_key() -> str:
    """A fresh key per submit call: its retries reuse it, so a retried POST makes one job."""
    return str(uuid.uuid4())


def _version() -> str:
    try:
        return version("loss-search")
    except PackageNotFoundError:  # a checkout that was never installed
        return "dev"
