"""One JSON shape for every error: ``{"error": {"type", "message", "details": [...]}}``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from service.schemas import ErrorBody, ErrorDetail, ErrorResponse

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status and a message a person can act on."""

    def __init__(
        self,
        status_code: int,
        type_: str,
        message: str,
        details: Sequence[ErrorDetail] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.type = type_
        self.message = message
        self.details = list(details)
        self.headers = headers


def invalid(message: str, *loc: str | int) -> ApiError:
    """A 422 about one field of the request body."""
    return ApiError(
        422, "validation_error", message, [ErrorDetail(loc=["body", *loc], message=message)]
    )


def not_found(what: str, identifier: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what} with id {identifier!r}")


# Error types of the statuses Starlette raises itself (routing, body parsing, size limit).
_HTTP_ERROR_TYPES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


def error_response(
    status_code: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A response in the one error shape, for code that runs outside the exception handlers."""
    return _response(status_code, ErrorBody(type=type_, message=message), headers)


def _response(
    status_code: int, body: ErrorBody, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        ErrorResponse(error=body).model_dump(mode="json"), status_code=status_code, headers=headers
    )


def unavailable(type_: str, message: str, retry_after_s: int = 5) -> JSONResponse:
    """A 503 with ``Retry-After``: the request was fine, a dependency was not; nothing was done."""
    return _response(
        503,
        ErrorBody(type=type_, message=message),
        headers={"Retry-After": str(retry_after_s)},
    )


def _allowed_methods(request: Request) -> str:
    """Every method the API documents at this path (HEAD too, wherever GET is).

    Starlette's own ``Allow`` names only the methods of the first route whose path matched
    (POST /v1/jobs), not those of its siblings (GET /v1/jobs).
    """
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern, _, _ = compile_path(template)
        if pattern.match(request.url.path):
            methods |= {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _validation_message(errors: Sequence[Any], details: list[ErrorDetail]) -> str:
    """The first problem, in one line: where it is and what is wrong."""
    if errors and errors[0]["type"] == "json_invalid":
        reason, position = errors[0].get("ctx", {}).get("error", ""), errors[0]["loc"][-1]
        return f"the request body is not valid JSON: {reason} (at character {position})"
    if not details:
        return "invalid request"
    first = details[0]
    return f"{'.'.join(str(p) for p in first.loc[1:]) or 'request'}: {first.message}"


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the shared shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        body = ErrorBody(type=exc.type, message=exc.message, details=exc.details)
        return _response(exc.status_code, body, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        details = [
            ErrorDetail(
                loc=[str(p) if not isinstance(p, int) else p for p in e["loc"]], message=e["msg"]
            )
            for e in errors
        ]
        message = _validation_message(errors, details)
        return _response(422, ErrorBody(type="validation_error", message=message, details=details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = _HTTP_ERROR_TYPES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's "There was an error parsing the body" hides the cause (bytes that are not
            # UTF-8, say); the cause is what a client can fix.
            message = f"the request body could not be read: {exc.__cause__}"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            headers = {**(headers or {}), "Allow": allowed}
            message = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
        return _response(exc.status_code, ErrorBody(type=kind, message=message), headers=headers)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        outage = isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated
        if not outage:  # an integrity or programming error is ours, not the database's
            return await _unexpected(request, exc)
        logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return unavailable("database_unavailable", "the database is unavailable; try again")

    @app.exception_handler(PoolTimeoutError)
    async def _busy(request: Request, exc: PoolTimeoutError) -> JSONResponse:
        logger.warning("no database connection free for %s %s", request.method, request.url.path)
        return unavailable("busy", "the service is at capacity; try again", retry_after_s=1)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return _response(500, ErrorBody(type="internal_error", message="internal server error"))
