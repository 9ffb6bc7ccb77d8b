"""Celery tasks: thin adapters from a message (a job id) to :func:`workers.jobs.run_job`."""

from __future__ import annotations

from service.queue import RUN_JOB_TASK
from service.settings import get_settings
from workers.celery_app import app
from workers.jobs import run_shard


@app.task(name=RUN_JOB_TASK)
def run_job_task(job_id: str, shard: int = 0) -> str | None:
    """Run shard ``shard`` of the job with ``job_id``; the rows hold everything else."""
    status = run_shard(job_id, shard, get_settings())
    return status.value if status is not None else None
