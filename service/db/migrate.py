"""Bring a database up to date: the service's tables (Alembic) and Optuna's (its own upgrade)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from optuna.storages import RDBStorage

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

logger = logging.getLogger(__name__)


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` that needs no ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    """Create or upgrade every table the service needs in the database at ``url``."""
    command.upgrade(alembic_config(url), "head")
    # Creating the storage creates Optuna's tables (or checks that they are current).
    storage = RDBStorage(
        url, engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    )
    storage.remove_session()
    logger.info("database at %s is up to date", _redacted(url))


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
