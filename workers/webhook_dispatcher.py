"""The webhook dispatcher: sends the outbox's due messages, on a thread in every worker.

Each round it leases the due messages (so two workers never send one at once), posts each
with fresh Standard Webhooks headers, and records the attempt. A 2xx delivers it; anything
else (an error status, a timeout, a refused or unresolvable target) schedules another attempt
after an exponentially growing wait with jitter, until ``webhook_retry_for_s`` after the event,
when it is marked failed. The search never waits for any of this: it runs on the worker's
main thread and only writes outbox rows.

Redirects are not followed: a receiver that moved answers 3xx, which is a failed attempt
(following it would skip the address check).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx

from service.db import webhooks as repo
from service.db.models import utcnow
from service.db.session import session_scope
from service.metrics import WEBHOOK_DELIVERIES
from service.settings import Settings
from service.webhooks.signing import new_secret, signed_headers
from service.webhooks.targets import TargetRefused, check_target

logger = logging.getLogger(__name__)
BATCH = 16
SENDERS = 4


def retry_wait_s(attempts: int, settings: Settings) -> float:
    """The wait after the ``attempts``-th failed attempt: doubling from the first retry's, at
    most the longest wait, with ±20% jitter so receivers that failed together are not all
    retried at the same moment."""
    base: float = settings.webhook_first_retry_s * 2.0 ** max(attempts - 1, 0)
    return min(base, settings.webhook_max_retry_wait_s) * random.uniform(0.8, 1.2)


def deliver_due(settings: Settings, client: httpx.Client) -> int:
    """One round: send every due message (in batches); returns how many attempts were made."""
    url = settings.resolved_database_url
    lease_s = settings.webhook_timeout_s * 2 + 5
    made = 0
    while True:
        with session_scope(url) as session:
            due = repo.claim_due(session=session, limit=BATCH, lease_s=lease_s)
            secrets = {
                tenant: repo.tenant_secret(session=session, tenant=tenant, make=new_secret)
                for tenant in {message.tenant for message in due}
            }
        if not due:
            return made
        signed_by = [secrets[message.tenant] for message in due]
        with ThreadPoolExecutor(SENDERS, thread_name_prefix="webhook-send") as senders:
            list(senders.map(_deliver, due, signed_by, [settings] * len(due), [client] * len(due)))
        made += len(due)
        if len(due) < BATCH:
            return made


def _deliver(message: repo.Due, secret: str, settings: Settings, client: httpx.Client) -> None:
    attempt = _attempt(message, secret, settings, client)
    succeeded = attempt["status_code"] is not None and 200 <= attempt["status_code"] < 300
    next_at: datetime | None = None
    if succeeded:
        status, outcome = repo.DELIVERED, "delivered"
    else:
        wait = timedelta(seconds=retry_wait_s(message.attempts + 1, settings))
        give_up_at = message.created_at + timedelta(seconds=settings.webhook_retry_for_s)
        next_at = utcnow() + wait
        if next_at > give_up_at:
            status, outcome, next_at = repo.FAILED, "failed", None
        else:
            status, outcome = repo.PENDING, "retry"
    with session_scope(settings.resolved_database_url) as session:
        repo.record_attempt(
            session=session,
            delivery_id=message.id,
            attempt=attempt,
            status=status,
            next_attempt_at=next_at,
        )
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    if outcome != "delivered":
        logger.warning(
            "webhook %s to %s: %s (%s)",
            message.id,
            message.url,
            outcome,
            attempt["error"] or attempt["status_code"],
            extra={"job_id": message.payload.get("data", {}).get("job_id")},
        )


def _attempt(
    message: repo.Due, secret: str, settings: Settings, client: httpx.Client
) -> dict[str, Any]:
    """Post the message once; what happened, as the delivery log keeps it."""
    at = utcnow()
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    try:
        check_target(message.url, allow_private=settings.webhook_allow_private)
        body = json.dumps(message.payload, separators=(",", ":")).encode()
        response = client.post(
            message.url,
            content=body,
            headers=signed_headers(secret, message.id, at, body),
            timeout=settings.webhook_timeout_s,
        )
        status_code = response.status_code
        if not response.is_success:
            error = f"HTTP {status_code}"
    except TargetRefused as exc:
        error = f"refused: {exc}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration_ms = (time.perf_counter() - started) * 1000
    return {
        "at": at.isoformat(),
        "status_code": status_code,
        "error": error,
        "duration_ms": round(duration_ms, 1),
    }


class Dispatcher:
    """Runs :func:`deliver_due` every ``settings.webhook_poll_s`` on a daemon thread."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        with httpx.Client(follow_redirects=False) as client:
            while not self._stop.wait(self._settings.webhook_poll_s):
                try:
                    deliver_due(self._settings, client)
                except Exception:  # keep going if the database blinks
                    logger.warning("webhook round failed", exc_info=True)
