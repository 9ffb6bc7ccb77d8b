"""Database blips: which errors are worth retrying, and a retry policy for them.

A PostgreSQL restart or failover drops every open connection and refuses new ones for a few
seconds. Work that can simply be done again (a heartbeat, a trial's report, a shard's status)
should wait that out with bounded backoff instead of failing a job that has run for an hour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from service.db.session import session_scope

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

OUTAGE_TOLERANCE_S = 30.0
"""How long a worker keeps retrying one database call before it gives up on it."""


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` (or an error it wraps) says the database was briefly unreachable.

    Connection failures, dropped connections, a busy SQLite file and an exhausted pool are
    transient; a constraint violation or a bad statement is not. Optuna wraps commit errors
    in its own exception, so the whole cause chain is examined.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OperationalError | PoolTimeoutError):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    logger.warning(
        "database unreachable (%s); retrying %s (attempt %d)",
        type(error).__name__ if error is not None else "?",
        getattr(state.fn, "__qualname__", "call"),
        state.attempt_number,
    )


def retry_transient(
    tolerance_s: float = OUTAGE_TOLERANCE_S,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Retry the decorated call on transient database errors for up to ``tolerance_s``.

    Only for calls that are safe to repeat: each attempt must run in a fresh transaction.
    """
    return retry(
        retry=retry_if_exception(is_transient),
        stop=stop_after_delay(tolerance_s),
        wait=wait_exponential(multiplier=0.2, max=3),
        before_sleep=_log_retry,
        reraise=True,
    )


@retry_transient()
def in_transaction(url: str, work: Callable[[Session], R]) -> R:
    """Run ``work`` in a transaction, again in a fresh one if the database blinks."""
    with session_scope(url) as session:
        return work(session)
