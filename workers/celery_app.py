"""The Celery application the workers run.

One worker process is one training slot (one GPU, or a share of the CPU): the pool is ``solo``,
so the search runs in the worker's own process and nothing forks after torch is loaded. Run one
process per slot.

Delivery is at-least-once: a task is acknowledged only after it returns (``acks_late``) and a
worker takes one task at a time (prefetch 1). If a worker dies mid-job, its unacknowledged
message goes back to the broker, and a sweeper thread in every worker (:mod:`workers.sweeper`)
also puts shards whose worker stopped sending heartbeats back on the queue, and sends again
queued shards whose message was never sent or was lost; that covers brokers that lose messages
(kombu's SQLAlchemy transport with its consumer, Redis on restart) and Redis's long visibility
timeout. Another thread sends the webhooks that jobs queued (:mod:`workers.webhook_dispatcher`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals

from service.logs import configure_logging
from service.queue import RUN_JOB_TASK
from service.settings import get_settings
from workers.sweeper import Sweeper
from workers.webhook_dispatcher import Dispatcher

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


def send_shard(job_id: str, shard: int) -> None:
    """Send one shard of a job to the queue (the sweeper's way of sending)."""
    app.send_task(RUN_JOB_TASK, args=[job_id, shard], queue=settings.queue_name)


_sweeper = Sweeper(settings, send_shard)
_webhooks = Dispatcher(settings)


@signals.worker_ready.connect
def _start_threads(**_: Any) -> None:
    _sweeper.start()
    _webhooks.start()


@signals.worker_shutdown.connect
def _stop_threads(**_: Any) -> None:
    _sweeper.stop()
    _webhooks.stop()


@signals.worker_init.connect
def _configure_torch(**_: Any) -> None:
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)


@signals.setup_logging.connect
def _configure_logging(loglevel: int | str | None = None, **_: Any) -> None:
    # Connected, this replaces Celery's own logging set-up: one handler, in the configured format.
    configure_logging(settings.log_format, loglevel or "INFO")
