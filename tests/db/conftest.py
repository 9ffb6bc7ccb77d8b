"""A migrated database per test module: SQLite always, PostgreSQL when it can be reached.

Repository code uses dialect-specific SQL (upserts), so it is checked on both. Without a
PostgreSQL server the PostgreSQL cases skip, unless ``LOSS_SEARCH_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from service.db.migrate import upgrade_database

POSTGRES_ADMIN_URL = os.environ.get(
    "LOSS_SEARCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_SERVICES = os.environ.get("LOSS_SEARCH_REQUIRE_SERVICES", "") not in ("", "0", "false")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a freshly migrated database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
        upgrade_database(url)
        yield url
        return
    name = f"loss_search_db_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL is unreachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    upgrade_database(url)
    yield url
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def anyio_backend() -> str:
    """The API runs on asyncio; its async reads are tested there."""
    return "asyncio"
