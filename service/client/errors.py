"""What the client raises: the API's one error shape as :class:`ApiError`, and
:class:`ServiceUnreachable` when no answer came at all."""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from service.schemas import ErrorDetail, ErrorResponse


class ClientError(Exception):
    """Anything the client raises about talking to the service."""


class ApiError(ClientError):
    """The service answered with an error (every error has one shape: ``ErrorResponse``).

    ``code`` is the error's ``type`` (``validation_error``, ``not_found``, ``quota_exceeded``,
    ``no_result_yet``, ...); ``retry_after`` is the ``Retry-After`` header in seconds, if any.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[ErrorDetail] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """The error ``response`` holds; one that is not in the API's shape (a proxy's HTML
        page, say) keeps its status, with ``http_<status>`` as its code and its text."""
        retry_after = retry_after_s(response)
        try:
            body = ErrorResponse.model_validate_json(response.content).error
        except ValidationError:
            text = response.text.strip()[:500] or response.reason_phrase
            return cls(response.status_code, f"http_{response.status_code}", text, [], retry_after)
        return cls(response.status_code, body.type, body.message, body.details, retry_after)


class ServiceUnreachable(ClientError):
    """No answer from the service (connection refused, timed out, cut), after the retries."""


def retry_after_s(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds. The API sends seconds; the HTTP-date form is read as
    absent (the client then backs off on its own)."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None
