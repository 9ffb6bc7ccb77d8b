"""Idempotent submission, after the IETF httpapi draft "The Idempotency-Key HTTP Header Field".

A client that may retry ``POST /v1/jobs`` (a timeout, a lost answer) sends a key of its choosing.
The first request with that key creates the job; within :data:`WINDOW` the same key with the
same body gets that job back, with the status code the first one got, and creates nothing. The
same key with a different body is an error (422): it names a request already made. Keys are per
tenant; after the window a key may be used again.

The body is compared by fingerprint: the SHA-256 of its JSON in canonical form (keys sorted, no
whitespace), so the same document sent with different spacing or key order is the same request.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta

from service.errors import ApiError
from service.schemas import ErrorDetail

HEADER = "Idempotency-Key"
WINDOW = timedelta(hours=24)
# The draft's key is a Structured Field string ("..."); a bare token is accepted too, as most
# clients send one. Printable ASCII without spaces, at most 255 characters.
_TOKEN = r"[\x21\x23-\x7e]{1,255}"
KEY_PATTERN = rf'^(?:"({_TOKEN})"|({_TOKEN}))$'
_KEY = re.compile(KEY_PATTERN)


@dataclass(frozen=True)
class Idempotent:
    """A request's idempotency key and the fingerprint of its body."""

    key: str
    fingerprint: str


def parse_key(header: str) -> str:
    """The key of an ``Idempotency-Key`` header; a 422 naming the header when it is malformed."""
    match = _KEY.match(header.strip())
    if match is None:
        raise _header_error(
            f"the {HEADER} header must be 1 to 255 printable ASCII characters without spaces or "
            'inner quotes, e.g. a UUID, optionally in double quotes ("…")'
        )
    return match[1] or match[2]


def fingerprint(body: bytes) -> str:
    """The SHA-256 of ``body`` (JSON) in canonical form; of the bytes themselves if it is not
    JSON (the body's own validation refuses it, after this runs)."""
    try:
        document = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        return hashlib.sha256(body).hexdigest()
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def reused(key: str, job_id: str) -> ApiError:
    """The 422 for a key already used with a different body."""
    return _header_error(
        f"the {HEADER} {key!r} was already used with a different request body (it created job "
        f"{job_id} less than 24 hours ago); send that body again to get that job, or use a new "
        "key for a new job",
        type_="idempotency_key_reused",
    )


def _header_error(message: str, type_: str = "validation_error") -> ApiError:
    return ApiError(422, type_, message, [ErrorDetail(loc=["header", HEADER], message=message)])
