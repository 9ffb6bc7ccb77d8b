"""GET /metrics after a real job, and the log lines of that job (JSON, with its fields)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.auth.principal import Role
from service.db import jobs as jobs_repo
from service.db.migrate import upgrade_database
from service.db.session import session_scope
from service.logs import JobFields, configure_logging, formatter, job_context
from service.main import create_app
from service.settings import Settings
from tests.api.keys import bearer, issue_key
from workers.engine.spec import Budget, Family, JobSpec, MetricRef, Parallelism, Task
from workers.jobs import run_shard

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of a /metrics page, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(page: Samples, name: str, **labels: str) -> float:
    return page.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    state = tmp_path_factory.mktemp("metrics")
    configured = Settings(_env_file=None, data_dir=state, queue_name="test-queue")
    upgrade_database(configured.resolved_database_url)
    return configured


@pytest.fixture(scope="module")
def finished(module_settings: Settings) -> tuple[str, list[str], Samples]:
    """A small real job of tenant 'acme' run by the worker code, with JSON logs captured.

    Yields the job id, the log lines and the /metrics page read just before the job ran.
    """
    spec = JobSpec(
        dataset="builtin:breast_cancer",
        task=Task.BINARY,
        metric=MetricRef(name="f1"),
        budget=Budget(n_trials=4),
        families=[Family.PROXY],
        parallelism=Parallelism(population_size=2),
    )
    with TestClient(create_app(module_settings)) as client:
        before = samples(client.get("/metrics").text)
    with session_scope(module_settings.resolved_database_url) as session:
        row, _ = jobs_repo.create_job(session=session, spec=spec, tenant="acme")
        job_id = row.id
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("json", logging.INFO, stream)
    try:
        run_shard(job_id, 0, module_settings)
    finally:
        root.handlers, root.level = handlers, level
    return job_id, stream.getvalue().splitlines(), before


def test_metrics_count_the_job_by_status_and_tenant_and_its_trials(
    module_settings: Settings, finished: tuple[str, list[str], Samples]
) -> None:
    job_id, _, before = finished
    with TestClient(create_app(module_settings)) as client:
        assert client.get(f"/v1/jobs/{job_id}").status_code == 200
        queued = client.post("/v1/jobs", json={"dataset": "builtin:breast_cancer", "metric": "f1"})
        assert queued.status_code == 202
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    page = samples(response.text)
    assert value(page, "loss_search_jobs", status="succeeded", tenant="acme") == 1
    assert value(page, "loss_search_jobs", status="queued", tenant="default") == 1
    assert value(page, "loss_search_queue_depth") == 1
    assert value(page, "loss_search_trials", state="complete", tenant="acme") >= 4
    # Counted where the trials finished (the worker code ran in this process).
    counted = "loss_search_trial_duration_seconds_count"
    assert value(page, counted, state="complete") - value(before, counted, state="complete") >= 4
    assert value(page, "loss_search_population_size") == 2
    latency = "loss_search_http_request_duration_seconds_count"
    assert value(page, latency, method="GET", route="/v1/jobs/{job_id}", status="200") >= 1
    assert value(page, latency, method="POST", route="/v1/jobs", status="202") >= 1
    assert job_id not in response.text  # route templates only: no label per job


def test_every_log_line_about_the_job_carries_its_id_shard_and_tenant(
    finished: tuple[str, list[str], Samples],
) -> None:
    job_id, lines, _ = finished
    records = [json.loads(line) for line in lines]
    about_job = [r for r in records if "job_id" in r]
    assert any(r["message"].endswith("succeeded") for r in about_job), lines
    assert [r for r in records if job_id in r["message"]] == [
        r for r in about_job if job_id in r["message"]
    ]
    for record in about_job:
        assert (record["job_id"], record["shard"], record["tenant"]) == (job_id, 0, "acme")
        assert {"level", "logger", "asctime"} <= set(record)


def test_metrics_may_ask_for_an_admin_key(module_settings: Settings) -> None:
    closed = module_settings.model_copy(update={"metrics_auth": "admin"})
    admin = issue_key(closed, "ops", Role.ADMIN)
    member = issue_key(closed, "acme")
    with TestClient(create_app(closed)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=bearer(member)).status_code == 403
        assert client.get("/metrics", headers=bearer(admin)).status_code == 200


def test_metrics_are_not_in_the_openapi_document(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]
    assert client.get("/metrics").status_code == 200


def test_text_log_lines_name_the_job() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("text"))
    handler.addFilter(JobFields())
    logger = logging.getLogger("tests.text_lines")
    logger.addHandler(handler)
    try:
        with job_context("j1", shard=2, tenant="acme"):
            logger.warning("inside")
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    inside, outside = stream.getvalue().splitlines()
    assert inside.endswith("inside [job_id=j1 shard=2 tenant=acme]")
    assert outside.endswith("outside")


WORKER = """
from datetime import UTC, datetime, timedelta
from service.metrics import POPULATION_SIZE
from workers.engine.trial_records import TrialRecord
from workers.job_hooks import observe_finished

end = datetime.now(UTC)
start = end - timedelta(seconds=3)
observe_finished([TrialRecord(0, "complete", started_at=start, finished_at=end)])
POPULATION_SIZE.set(5)
"""
SCRAPE = """
import sys
from service.db.session import DEFAULT_POOL
from service.metrics import build_registry, render

sys.stdout.write(render(build_registry(sys.argv[1], DEFAULT_POOL)).decode())
"""


def test_the_page_adds_up_what_other_processes_counted(settings: Settings, tmp_path: Path) -> None:
    # The worker and the API as separate processes sharing a multiprocess folder, as under
    # 'loss-search up': the API's page shows the trial the worker process counted.
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    subprocess.run([sys.executable, "-c", WORKER], env=env, check=True, timeout=60)
    url = settings.resolved_database_url
    scrape = [sys.executable, "-c", SCRAPE, url]
    done = subprocess.run(scrape, env=env, check=True, timeout=60, capture_output=True, text=True)
    page = samples(done.stdout)
    assert value(page, "loss_search_trial_duration_seconds_count", state="complete") == 1
    assert value(page, "loss_search_trial_duration_seconds_sum", state="complete") >= 3
    assert value(page, "loss_search_population_size") == 5
    assert value(page, "loss_search_queue_depth") == 0  # the database's metrics are there too
