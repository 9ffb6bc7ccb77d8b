"""When and how long the client retries: 429 and 503 honouring ``Retry-After``, and failed
connections with exponential backoff (tenacity does the looping, sync and async alike)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from service.client.errors import ApiError

# The API answers 503 when its database is down or busy (nothing was done) and 429 while a
# tenant has too many jobs in flight: the same request may succeed later.
RETRIED_STATUSES = frozenset({429, 503})
# The request never left: safe to send again whatever it was.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Retries:
    """How the client retries a request.

    ``attempts`` counts the first one. ``Retry-After`` is honoured when the service sends it;
    one longer than ``max_wait_s`` is not waited out: the error is raised at once (a quota's
    30 s, say, with a short ``max_wait_s``). Without it the waits grow from ``backoff_s``
    (doubling, with jitter) up to ``max_backoff_s``.
    """

    attempts: int = 5
    max_wait_s: float = 60.0
    backoff_s: float = 0.5
    max_backoff_s: float = 10.0

    def sync(self, replayable: bool) -> Retrying:
        """A tenacity loop for one request; ``replayable`` if sending it twice is harmless
        (a GET, a submit with its idempotency key), so a connection cut mid-request is retried."""
        retry, wait, stop = self._policy(replayable)
        # reraise: the caller sees the ApiError or httpx error itself, not tenacity's wrapper
        return Retrying(retry=retry, wait=wait, stop=stop, reraise=True)

    def asynchronous(self, replayable: bool) -> AsyncRetrying:
        """:meth:`sync` for an ``async`` caller."""
        retry, wait, stop = self._policy(replayable)
        return AsyncRetrying(retry=retry, wait=wait, stop=stop, reraise=True)

    def _policy(self, replayable: bool) -> tuple[retry_if_exception, wait_base, stop_base]:
        return (
            retry_if_exception(lambda exc: _retryable(exc, replayable)),
            _RetryAfter(
                wait_exponential(self.backoff_s, self.max_backoff_s)
                + wait_random(0, self.backoff_s)
            ),
            stop_after_attempt(self.attempts) | _TooLong(self.max_wait_s),
        )


NO_RETRIES = Retries(attempts=1)


def _retryable(exc: BaseException, replayable: bool) -> bool:
    if isinstance(exc, ApiError):
        return exc.status in RETRIED_STATUSES
    if isinstance(exc, _NOT_SENT):
        return True
    return replayable and isinstance(exc, httpx.TransportError)


def _retry_after(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome else None
    return exc.retry_after if isinstance(exc, ApiError) else None


class _RetryAfter(wait_base):
    """The service's ``Retry-After`` when it sent one, else the backoff."""

    def __init__(self, backoff: wait_base) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        told = _retry_after(retry_state)
        return told if told is not None else self.backoff(retry_state)


class _TooLong(stop_base):
    """Stop when the service asks for a longer wait than the caller allows."""

    def __init__(self, max_wait_s: float) -> None:
        self.max_wait_s = max_wait_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        told = _retry_after(retry_state)
        return told is not None and told > self.max_wait_s
