"""Request-scoped dependencies: the settings and the database.

Both are ``async def``: they do no I/O, and a sync dependency would cost each request an extra
hop through the thread pool. A route opens its session itself (``with db.session()``), inside
the one thread it runs in, so a connection is never held while the request waits for a thread
(with a yield-dependency the session closes in another hop, and under load requests would hold
connections while queueing for threads, starving the pool).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from service.db.reads import read_connection
from service.db.session import PoolOptions, session_scope
from service.settings import Settings


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


@dataclass(frozen=True)
class Database:
    """The API's database: open a session that commits on success, rolls back on error."""

    url: str
    pool: PoolOptions

    def session(self) -> AbstractContextManager[Session]:
        return session_scope(self.url, self.pool)

    def reads(self) -> AbstractContextManager[Connection]:
        """A connection for the read model (:mod:`service.db.reads`), in autocommit mode."""
        return read_connection(self.url, self.pool)


async def get_database(settings: SettingsDep) -> Database:
    """The database the app was configured with."""
    return Database(settings.resolved_database_url, settings.database_pool)


DatabaseDep = Annotated[Database, Depends(get_database)]
