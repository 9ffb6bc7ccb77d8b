"""Empty databases for tests: a SQLite file, or a fresh PostgreSQL database dropped afterwards.

Code with dialect-specific SQL (upserts) is checked on both. Without a PostgreSQL server the
PostgreSQL cases skip, unless ``LOSS_SEARCH_REQUIRE_SERVICES=1`` (CI): then they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "LOSS_SEARCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_SERVICES = os.environ.get("LOSS_SEARCH_REQUIRE_SERVICES", "") not in ("", "0", "false")
KINDS = ["sqlite", "postgresql"]


@contextmanager
def empty_database(kind: str, folder: Path, prefix: str) -> Iterator[str]:
    """The SQLAlchemy URL of an empty database of ``kind`` (one of :data:`KINDS`)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{prefix}.db'}"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL is unreachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
