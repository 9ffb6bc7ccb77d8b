"""Alembic environment for the service's own tables.

Optuna keeps its own schema (and its own ``alembic_version`` table) in the same database, so ours
records its revision in ``loss_search_alembic_version`` and only looks at our tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from service.db.models import Base
from service.settings import get_settings

VERSION_TABLE = "loss_search_alembic_version"

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url


def _include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # Autogenerate must not propose dropping Optuna's tables.
    return not (type_ == "table" and reflected and name not in Base.metadata.tables)


def run_migrations_offline() -> None:
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        version_table=VERSION_TABLE,
        include_object=_include_object,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        {"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            version_table=VERSION_TABLE,
            include_object=_include_object,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
