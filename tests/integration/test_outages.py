"""Outages of the database and the broker, on private servers the tests stop and start.

While the database is down the API answers 503 with ``Retry-After`` (never 500) and recovers on
its own; a job accepted while the broker is down is not lost: the workers' sweeper sends it
once the broker is back, and it runs to the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.harness import Backend, Service, job_in, wait_for
from tests.integration.servers import PrivatePostgres, PrivateRedis

pytestmark = pytest.mark.integration

SMALL_JOB = {
    "dataset": "builtin:breast_cancer",
    "metric": "f1",
    "families": ["proxy"],
    "budget": {"n_trials": 3},
    "confirmation": {"top_k": 1, "seeds": 2, "seeds_per_fold": 2},
}


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().create()
    yield server
    server.destroy()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis").start()
    yield server
    server.stop()


def running(backend: Backend, workdir: Path, worker: bool) -> Service:
    data_root = workdir / "data"
    data_root.mkdir(parents=True)
    service = Service(backend=backend, workdir=workdir, data_root=data_root)
    try:
        service.start(worker=worker)
    except BaseException:
        service.stop()
        print(service.logs())
        raise
    return service


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["type"] in ("database_unavailable", "not_ready")


def test_the_api_answers_503_while_the_database_is_down_and_recovers(
    tmp_path: Path, private_postgres: PrivatePostgres
) -> None:
    backend = Backend("private-postgres", private_postgres.url, None, f"q-{uuid.uuid4().hex[:8]}")
    service = running(backend, tmp_path / "service", worker=False)
    try:
        with service.client() as client:
            job_id = client.post("/v1/jobs", json=SMALL_JOB).json()["id"]
            private_postgres.stop()
            for response in (
                client.get(f"/v1/jobs/{job_id}"),
                client.get("/v1/jobs"),
                client.get(f"/v1/jobs/{job_id}/trials"),
                client.post("/v1/jobs", json=SMALL_JOB),
                client.post(f"/v1/jobs/{job_id}/cancel"),
            ):
                assert_unavailable(response)
            assert client.get("/readyz").status_code == 503
            assert client.get("/healthz").status_code == 200  # the process itself is fine

            private_postgres.start()
            wait_for(
                lambda: client.get(f"/v1/jobs/{job_id}").status_code == 200,
                30,
                "the API to serve again once the database is back",
            )
            # The POST that answered 503 left nothing behind.
            assert [job["id"] for job in client.get("/v1/jobs").json()["items"]] == [job_id]
    finally:
        service.stop()


def test_a_job_accepted_while_the_broker_is_down_runs_once_it_is_back(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    backend = Backend("private-redis", None, private_redis.url, f"q-{uuid.uuid4().hex[:8]}")
    service = running(backend, tmp_path / "service", worker=True)
    try:
        with service.client() as client:
            private_redis.stop()
            accepted = client.post("/v1/jobs", json=SMALL_JOB)
            assert accepted.status_code == 202, accepted.text  # committed: accepted, not lost
            job_id = accepted.json()["id"]
            assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"

            private_redis.start()  # empty: the message was never sent
            job = wait_for(
                lambda: job_in(client, job_id, "succeeded", "failed"),
                240,
                "the sweeper to send the job and the worker to run it",
            )
            assert job["status"] == "succeeded", job["error"]
            assert job["progress"]["complete"] + job["progress"]["pruned"] == 3
    finally:
        service.stop()
