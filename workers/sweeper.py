"""The sweeper: finds shards that a crash or a lost message left behind, and sends them again.

Every worker runs it on a thread. Each round it finds every state a crash can leave behind:

- a running shard whose worker went silent (the worker died, maybe while finalizing): queued
  and sent again;
- a running job whose shards are all done but that nobody finalized (a worker died between the
  two): one shard queued and sent again, and whoever claims it finalizes;
- a queued shard whose message may be lost: never sent (the broker was down when the API
  accepted the job, or a worker gave the shard back during a database blip) or sent long ago and
  never claimed (a broker restart lost it): sent again, with backoff.

Why a sweeper rather than a transactional outbox: an outbox covers only "the send failed after
the commit", while a broker that restarts without persistence loses messages it had already
accepted. Re-sending whatever is still queued covers both with one mechanism, and duplicates
cost nothing because claiming a shard is compare-and-set: a second message for a shard that is
running or done is acknowledged and dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from service.db import shards as shards_repo
from service.db.session import session_scope
from service.settings import Settings

logger = logging.getLogger(__name__)

Send = Callable[[str, int], None]
"""Sends one shard's message (job id, shard number) to the broker."""


def sweep(settings: Settings, send: Send) -> list[tuple[str, int]]:
    """One round: requeue stale and unfinalized shards, resend unclaimed ones; returns the
    shards sent."""
    url = settings.resolved_database_url
    with session_scope(url) as session:
        stale = shards_repo.requeue_stale_shards(
            session=session, stale_after_s=settings.job_stale_after_s
        )
    for job_id, shard in stale:
        _warn("job %s shard %d lost its worker; queueing it again", job_id, shard)
    with session_scope(url) as session:
        unfinalized = shards_repo.requeue_unfinalized(
            session=session, settle_s=settings.job_stale_after_s
        )
    for job_id, shard in unfinalized:
        _warn("job %s was never finalized; queueing shard %d to do it", job_id, shard)
    with session_scope(url) as session:
        unclaimed = shards_repo.claim_resends(
            session=session,
            resend_after_s=settings.resend_after_s,
            max_backoff_s=settings.resend_max_backoff_s,
        )
    for job_id, shard in unclaimed:
        _warn("job %s shard %d was not picked up; sending it again", job_id, shard)
    due = [*stale, *unfinalized, *unclaimed]
    for job_id, shard in due:
        try:
            send(job_id, shard)
        except Exception:  # the broker is down: the shard stays queued and comes round again
            _warn("could not send job %s shard %d", job_id, shard, exc_info=True)
    return due


def _warn(message: str, job_id: str, shard: int, *, exc_info: bool = False) -> None:
    # With the line's job fields (the sweeper does not read the job's tenant).
    fields = {"job_id": job_id, "shard": shard}
    logger.warning(message, job_id, shard, exc_info=exc_info, extra=fields)


class Sweeper:
    """Runs :func:`sweep` every ``settings.reaper_interval_s`` on a daemon thread."""

    def __init__(self, settings: Settings, send: Send) -> None:
        self._settings, self._send = settings, send
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._settings.reaper_interval_s):
            try:
                sweep(self._settings, self._send)
            except Exception:  # keep sweeping even if the database or the broker blinks
                logger.warning("sweeper round failed", exc_info=True)
