"""Engines and sessions, one engine per database URL (and pool size) and process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


@dataclass(frozen=True)
class PoolOptions:
    """How many connections a process keeps and how long a caller waits for one.

    ``pool_pre_ping`` is always on: a connection that died with a database restart is replaced
    before it is handed out, so the first request after an outage does not fail.
    """

    size: int = 5
    max_overflow: int = 10
    timeout_s: float = 30.0

    def engine_kwargs(self) -> dict[str, Any]:
        """These options as keyword arguments of ``create_engine`` / ``create_async_engine``."""
        return {
            "pool_pre_ping": True,
            "pool_size": self.size,
            "max_overflow": self.max_overflow,
            "pool_timeout": self.timeout_s,
        }


DEFAULT_POOL = PoolOptions()


@lru_cache(maxsize=8)
def get_engine(url: str, pool: PoolOptions = DEFAULT_POOL) -> Engine:
    """A pooled engine for ``url``; SQLite connections wait on locks and use WAL journaling."""
    kwargs = pool.engine_kwargs()
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; the API, the worker and Optuna share the file.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@lru_cache(maxsize=8)
def _session_factory(url: str, pool: PoolOptions) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url, pool), expire_on_commit=False)


@contextmanager
def session_scope(url: str, pool: PoolOptions = DEFAULT_POOL) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = _session_factory(url, pool)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
