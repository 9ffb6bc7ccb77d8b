"""The OpenAPI document, completed: every error response of every route, in the one shape.

Routes declare the errors particular to them (404, 409, 503) in their decorators; what every
route can answer (400, 413, 422 where it takes input, 401 where it needs a key, 500) is added
here, once. Every error is
documented as ``application/json`` with :class:`ErrorResponse`, whatever the route's success
media type: the HTML report's errors are JSON too, and a generated client must know it.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from service.schemas import ErrorResponse

ERROR_REF = "#/components/schemas/ErrorResponse"

# What each error status means here; routes that declare one get this description unless they
# wrote their own.
DESCRIPTIONS = {
    "400": "The request could not be read (for example a body that is not valid UTF-8).",
    "401": "No API key was sent and one is needed, or the key is not valid (or was revoked).",
    "403": "The API key is valid but may not do this (an admin key is needed).",
    "404": "There is no such resource (no job with this id).",
    "409": "The resource is not in a state that allows this (no result yet, already finished).",
    "413": "The request body is larger than the API accepts (LOSS_SEARCH_MAX_REQUEST_BYTES).",
    "422": "The request is invalid; the message says what to fix and details locate it.",
    "429": "The tenant is at one of its limits (jobs queued or running, jobs waiting); the "
    "message names it. Submit again after Retry-After seconds, or once a job ends.",
    "500": "An unexpected error; the message is generic and the server log has the details.",
    "503": "A service the API depends on (database, broker) is unreachable or at capacity; "
    "try again (after Retry-After seconds, when given).",
}
WWW_AUTHENTICATE = {
    "description": "The challenge: 'Bearer realm=\"loss-search\"', with "
    "'error=\"invalid_token\"' when the key sent is not valid.",
    "schema": {"type": "string"},
}
RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 0},
}
# Errors any operation can answer; 422 too where it takes parameters or a body.
COMMON = ("400", "413", "500")
# FastAPI's default 422 body, which this API never sends.
_UNUSED = ("HTTPValidationError", "ValidationError")


def operation_ref(method: str, path: str) -> str:
    """A link's ``operationRef``: a JSON pointer to the operation, written as a URI fragment."""
    pointer = path.replace("~", "~0").replace("/", "~1")
    return f"#/paths/{quote(pointer, safe='~')}/{method.lower()}"


# Where a client (or a stateful test generator) can go with a new job's id.
JOB_LINKS = {
    "GetJob": ("GET", "/v1/jobs/{job_id}"),
    "ListTrials": ("GET", "/v1/jobs/{job_id}/trials"),
    "GetBest": ("GET", "/v1/jobs/{job_id}/best"),
    "GetReport": ("GET", "/v1/jobs/{job_id}/report"),
    "GetReportHtml": ("GET", "/v1/jobs/{job_id}/report.html"),
    "CancelJob": ("POST", "/v1/jobs/{job_id}/cancel"),
}

JOB_CREATED: dict[str, Any] = {
    "description": "The job is valid, stored and queued (or, with a repeated Idempotency-Key, "
    "the job the first request created).",
    "headers": {
        "Location": {
            "description": "The new job's URL (GET it to follow the job).",
            "required": True,
            "schema": {"type": "string", "format": "uri-reference"},
        },
        "Idempotent-Replayed": {
            "description": "'true' when the request repeated an Idempotency-Key: the job is the "
            "one the first request with that key created, and nothing new was created.",
            "required": False,
            "schema": {"type": "string", "enum": ["true"]},
        },
    },
    "links": {
        name: {
            "operationRef": operation_ref(method, path),
            "parameters": {"job_id": "$response.body#/id"},
        }
        for name, (method, path) in JOB_LINKS.items()
    },
}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Give every operation in ``schema`` its error responses, as JSON in the one error shape."""
    definitions = schema.setdefault("components", {}).setdefault("schemas", {})
    model = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions.update(model.pop("$defs", {}))
    definitions["ErrorResponse"] = model
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            _document_operation(operation)
    for name in _UNUSED:
        definitions.pop(name, None)
    return schema


def _document_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    takes_input = operation.get("parameters") or operation.get("requestBody")
    needs_key = bool(operation.get("security"))
    for status in (*COMMON, *(["422"] if takes_input else []), *(["401"] if needs_key else [])):
        responses.setdefault(status, {})
    for status, response in responses.items():
        if not status.startswith(("4", "5")):
            continue
        response["content"] = {"application/json": {"schema": {"$ref": ERROR_REF}}}
        if status in ("429", "503"):
            response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER
        if status == "401":
            response.setdefault("headers", {})["WWW-Authenticate"] = WWW_AUTHENTICATE
        # FastAPI fills in the bare reason phrase ("Not Found"); say what it means here.
        if response.get("description") in (None, "", "Validation Error", _phrase(status)):
            response["description"] = DESCRIPTIONS.get(status, _phrase(status))


def _phrase(status: str) -> str:
    return HTTPStatus(int(status)).phrase if status.isdigit() else status
