"""The producer side of the queue: send a job's shards to the workers by task name, ids only.

The service never imports the worker code; the task name is the whole contract. A send may fail
(the broker is down) or its message may be lost later (a broker restarted without persistence):
the shard row then stays ``queued`` and the workers' sweeper sends it again
(:mod:`workers.sweeper`), so a committed job is never lost for want of a message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

from celery import Celery

from service.settings import Settings

RUN_JOB_TASK = "loss_search.run_job"
logger = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def producer(broker_url: str) -> Celery:
    """A Celery app used only to publish (never imported from the workers)."""
    app = Celery("loss-search-api", broker=broker_url, set_as_current=False)
    app.conf.update(
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        # A request must not hang on a broker that is down: the sweeper sends the shard later.
        broker_connection_timeout=2.0,
    )
    return app


def send_shards(job_id: str, shards: Sequence[int], settings: Settings) -> bool:
    """Send one message per shard; False (and a log line) if the broker could not take them."""
    app = producer(settings.resolved_broker_url)
    try:
        for shard in shards:
            app.send_task(
                RUN_JOB_TASK,
                args=[job_id, shard],
                queue=settings.queue_name,
                retry=True,
                retry_policy={"max_retries": 1, "interval_start": 0.2, "interval_step": 0.2},
            )
    except Exception:  # kombu raises transport-specific errors; any of them means "not sent"
        logger.warning(
            "could not send job %s to the broker; the sweeper will", job_id, exc_info=True
        )
        return False
    return True


def broker_reachable(settings: Settings, timeout_s: float = 2.0) -> bool:
    """Whether a connection to the broker can be made now."""
    try:
        with producer(settings.resolved_broker_url).connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout_s)
        return True
    except Exception:  # kombu raises transport-specific errors; any of them means "not ready"
        return False
