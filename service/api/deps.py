"""Request-scoped dependencies: the settings and the database.

Both are ``async def``: they do no I/O, and a sync dependency would cost each request an extra
hop through the thread pool. A sync route opens its session itself (``with db.session()``),
inside the one thread it runs in, so a connection is never held while the request waits for a
thread (with a yield-dependency the session closes in another hop, and under load requests
would hold connections while queueing for threads, starving the pool). The polling routes are
async and read through ``db.reads()`` (:mod:`service.db.reads`).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Session

from service.api.view_cache import ViewCache
from service.db.reads import read_engine
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
    read_engine: AsyncEngine

    def session(self) -> AbstractContextManager[Session]:
        return session_scope(self.url, self.pool)

    def reads(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """An async connection for the read model (:mod:`service.db.reads`), in autocommit."""
        return self.read_engine.connect()


async def get_database(request: Request, settings: SettingsDep) -> Database:
    """The database the app was configured with.

    Its read engine is made at start-up (the lifespan), or here on first use where the server
    runs no lifespan.
    """
    state = request.app.state
    engine: AsyncEngine | None = getattr(state, "read_engine", None)
    if engine is None:
        engine = state.read_engine = read_engine(
            settings.resolved_database_url, settings.database_pool
        )
    return Database(settings.resolved_database_url, settings.database_pool, engine)


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_view_cache(request: Request) -> ViewCache:
    """This process's cache of rendered job views (:mod:`service.api.view_cache`)."""
    views: ViewCache = request.app.state.view_cache
    return views


ViewCacheDep = Annotated[ViewCache, Depends(get_view_cache)]
