"""Prometheus metrics: what the processes count as they work, and what the database says.

Two sources, one page (``GET /metrics``):

- counted by the processes: request latency (the API) and finished trials with their duration
  and the population size (the workers). With ``PROMETHEUS_MULTIPROC_DIR`` set (``loss-search
  up`` sets it; docker-compose shares a volume), every API and worker process writes its
  values into files there and the page adds them up; without it, the page shows this
  process's own values.
- read from the database at scrape time (:class:`JobsCollector`): jobs by status and tenant,
  the queue depth and trials by state and tenant, one grouped query over the jobs table.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select

from service.db.models import JobRow, JobStatus
from service.db.session import PoolOptions, session_scope
from workers.engine.trial_records import TRIAL_STATES

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _process_id() -> str:
    # Containers sharing the directory all run as pid 1, 7, ...: the host name keeps their files
    # apart ("_" separates fields in the file names).
    return f"{socket.gethostname().replace('_', '-')}-{os.getpid()}"


if os.environ.get(MULTIPROC_ENV):  # before the first metric is made: each one takes it then
    values.ValueClass = values.MultiProcessValue(_process_id)  # type: ignore[no-untyped-call]

REQUEST_SECONDS = Histogram(
    "loss_search_http_request_duration_seconds",
    "Time to answer an API request, by method, route template and status code.",
    ["method", "route", "status"],
)
TRIAL_SECONDS = Histogram(
    "loss_search_trial_duration_seconds",
    "Training time of each trial a worker finished, by final state.",
    ["state"],
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, float("inf")),
)
WEBHOOK_DELIVERIES = Counter(
    "loss_search_webhook_deliveries",
    "Webhook delivery attempts by outcome: delivered (a 2xx), retry (failed, tried again "
    "later), failed (failed, and retries are exhausted).",
    ["outcome"],
)
POPULATION_SIZE = Gauge(
    "loss_search_population_size",
    "Trials the most recently started shard trains at once (its population).",
    multiprocess_mode="mostrecent",
)


class JobsCollector(Collector):
    """Jobs by status and tenant, queue depth and trials by state, read at scrape time."""

    def __init__(self, url: str, pool: PoolOptions) -> None:
        self._url, self._pool = url, pool

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "loss_search_jobs", "Jobs by status and tenant.", labels=["status", "tenant"]
        )
        queued = GaugeMetricFamily(
            "loss_search_queue_depth", "Jobs waiting for a worker (status queued)."
        )
        trials = GaugeMetricFamily(
            "loss_search_trials",
            "Trials of all jobs by state and tenant.",
            labels=["state", "tenant"],
        )
        columns = [func.sum(getattr(JobRow, f"trials_{state}")) for state in TRIAL_STATES]
        query = select(JobRow.status, JobRow.tenant, func.count(), *columns).group_by(
            JobRow.status, JobRow.tenant
        )
        by_tenant: dict[tuple[str, str], int] = {}  # (trial state, tenant) -> trials
        waiting = 0
        with session_scope(self._url, self._pool) as session:
            for status, tenant, count, *sums in session.execute(query):
                jobs.add_metric([status, tenant], count)
                waiting += count if status == JobStatus.QUEUED.value else 0
                for trial_state, total in zip(TRIAL_STATES, sums, strict=True):
                    key = (trial_state, tenant)
                    by_tenant[key] = by_tenant.get(key, 0) + int(total or 0)
        queued.add_metric([], waiting)
        for (state_name, tenant_name), total in sorted(by_tenant.items()):
            trials.add_metric([state_name, tenant_name], total)
        yield from (jobs, queued, trials)


class _ThisProcess(Collector):
    """This process's own metrics (used when no multiprocess directory is set)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def build_registry(url: str, pool: PoolOptions) -> CollectorRegistry:
    """The registry ``GET /metrics`` renders: the processes' metrics and the database's."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(JobsCollector(url, pool))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus's text format."""
    return generate_latest(registry)
