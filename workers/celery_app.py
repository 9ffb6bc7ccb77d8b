"""The Celery application the workers run.

One worker process is one training slot (one GPU, or a share of the CPU): the pool is ``solo``,
so the search runs in the worker's own process and nothing forks after torch is loaded. Run one
process per slot.

Delivery is at-least-once: a task is acknowledged only after it returns (``acks_late``) and a
worker takes one task at a time (prefetch 1). If a worker dies mid-job, its unacknowledged
message goes back to the broker, and a reaper thread in every worker also puts jobs whose worker
stopped sending heartbeats back on the queue; that covers brokers that lose unacknowledged
messages with their consumer (kombu's SQLAlchemy transport) and Redis's long visibility timeout.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery, signals

from service.db import shards as shards_repo
from service.db.session import session_scope
from service.queue import RUN_JOB_TASK
from service.settings import get_settings

logger = logging.getLogger(__name__)
settings = get_settings()

app = Celery("loss-search", broker=settings.resolved_broker_url, include=["workers.tasks"])
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_pool="solo",
    task_ignore_result=True,
    task_default_queue=settings.queue_name,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
if settings.resolved_broker_url.startswith(("redis", "rediss")):
    # Redis redelivers a message not acknowledged within this time; a job longer than that
    # would be delivered twice (the second delivery sees a live heartbeat and does nothing).
    app.conf.broker_transport_options = {"visibility_timeout": settings.redis_visibility_timeout_s}


def requeue_stale_shards() -> list[tuple[str, int]]:
    """Send shards whose worker went silent back to the queue; return them."""
    with session_scope(settings.resolved_database_url) as session:
        stale = shards_repo.requeue_stale_shards(
            session=session, stale_after_s=settings.job_stale_after_s
        )
    for job_id, shard in stale:
        logger.warning("job %s shard %d lost its worker; queueing it again", job_id, shard)
        app.send_task(RUN_JOB_TASK, args=[job_id, shard], queue=settings.queue_name)
    return stale


def _reap_forever(stop: threading.Event) -> None:
    while not stop.wait(settings.reaper_interval_s):
        try:
            requeue_stale_shards()
        except Exception:  # keep reaping even if the database blinks
            logger.warning("stale-job reaper failed", exc_info=True)


_reaper_stop = threading.Event()


@signals.worker_ready.connect
def _start_reaper(**_: Any) -> None:
    threading.Thread(
        target=_reap_forever, args=(_reaper_stop,), name="job-reaper", daemon=True
    ).start()


@signals.worker_shutdown.connect
def _stop_reaper(**_: Any) -> None:
    _reaper_stop.set()


@signals.worker_init.connect
def _configure_torch(**_: Any) -> None:
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)
