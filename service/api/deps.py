"""Request-scoped dependencies: settings and a database session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from service.db.session import session_scope
from service.settings import Settings


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """A session committed when the request succeeds."""
    with session_scope(settings.resolved_database_url, settings.database_pool) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
