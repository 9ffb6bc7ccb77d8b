"""A migrated database per test module: SQLite always, PostgreSQL when it can be reached.

Repository code uses dialect-specific SQL (upserts), so it is checked on both. Without a
PostgreSQL server the PostgreSQL cases skip, unless ``LOSS_SEARCH_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.db.migrate import upgrade_database
from tests.databases import KINDS, empty_database


@pytest.fixture(params=KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a freshly migrated database."""
    with empty_database(request.param, tmp_path, "loss_search_db_test") as url:
        upgrade_database(url)
        yield url


@pytest.fixture
def anyio_backend() -> str:
    """The API runs on asyncio; its async reads are tested there."""
    return "asyncio"
