"""Backends for the end-to-end tests: embedded SQLite, and PostgreSQL + Redis.

PostgreSQL and Redis are real servers. When they cannot be reached the PostgreSQL + Redis run is
skipped, unless ``LOSS_SEARCH_REQUIRE_SERVICES=1`` (CI sets it): then it fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.integration.harness import Backend, Service

POSTGRES_ADMIN_URL = os.environ.get(
    "LOSS_SEARCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("LOSS_SEARCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("LOSS_SEARCH_REQUIRE_SERVICES", "") not in ("", "0", "false")


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"LOSS_SEARCH_REQUIRE_SERVICES is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database, dropped afterwards."""
    name = f"loss_search_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _unavailable(f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis is unreachable at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture(scope="module", params=["embedded", "postgres_redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    queue = f"loss-search-test-{uuid.uuid4().hex[:8]}"
    if request.param == "embedded":
        return Backend("embedded", None, None, queue)
    database = request.getfixturevalue("postgres_database")
    broker = request.getfixturevalue("redis_url")
    return Backend("postgres_redis", database, broker, queue)


@pytest.fixture(scope="module")
def service(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The API and one worker, started as real processes on ``backend``."""
    workdir = tmp_path_factory.mktemp(backend.name)
    data_root = workdir / "data"
    data_root.mkdir()
    shutil.copy(Path(__file__).parent / "data" / "constant_features.csv", data_root)
    running = Service(backend=backend, workdir=workdir, data_root=data_root)
    try:
        running.start()
    except BaseException:
        running.stop()
        print(running.logs())
        raise
    yield running
    running.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the service's process logs to failed integration tests."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    service = getattr(item, "funcargs", {}).get("service")
    if report.failed and isinstance(service, Service):
        report.sections.append(("service logs", service.logs()))
