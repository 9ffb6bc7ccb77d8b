"""The producer side of the queue: send a job to the workers by task name, with its id only.

The service never imports the worker code; the task name is the whole contract.
"""

from __future__ import annotations

from functools import lru_cache

from celery import Celery

from service.settings import Settings

RUN_JOB_TASK = "loss_search.run_job"


@lru_cache(maxsize=4)
def _producer(broker_url: str) -> Celery:
    app = Celery("loss-search-api", broker=broker_url, set_as_current=False)
    app.conf.update(broker_connection_retry_on_startup=True, task_ignore_result=True)
    return app


def enqueue_job(job_id: str, shards: int, settings: Settings) -> None:
    """Send one message per shard of the job. Call after the job row is committed."""
    producer = _producer(settings.resolved_broker_url)
    for shard in range(shards):
        producer.send_task(
            RUN_JOB_TASK,
            args=[job_id, shard],
            queue=settings.queue_name,
            retry=True,
            retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
        )


def broker_reachable(settings: Settings, timeout_s: float = 2.0) -> bool:
    """Whether a connection to the broker can be made now."""
    try:
        with _producer(settings.resolved_broker_url).connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout_s)
        return True
    except Exception:  # kombu raises transport-specific errors; any of them means "not ready"
        return False
