"""Revisions 0007-0009 (keys, tenants' limits, idempotency keys) on SQLite and PostgreSQL: jobs
stored before them belong to the tenant ``default``, and they downgrade cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from service.db.migrate import alembic_config, upgrade_database
from service.db.session import get_engine
from tests.db.legacy import insert_job
from workers.engine.spec import Budget, JobSpec, MetricRef, Task

SPEC = JobSpec(
    dataset="builtin:iris", task=Task.MULTICLASS, metric=MetricRef(name="accuracy"),
    budget=Budget(n_trials=5),
)  # fmt: skip
NEW_TABLES = {"api_keys", "tenants", "idempotency_keys"}


def tables(url: str) -> set[str]:
    return set(sa.inspect(get_engine(url)).get_table_names())


def test_jobs_from_before_tenants_belong_to_the_default_tenant(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "0006")
    assert not NEW_TABLES & tables(database_url)
    job_id = insert_job(database_url, SPEC)

    upgrade_database(database_url)

    assert tables(database_url) >= NEW_TABLES
    with get_engine(database_url).connect() as connection:
        tenant = connection.execute(
            sa.text("SELECT tenant FROM jobs WHERE id = :id"), {"id": job_id}
        ).scalar_one()
    assert tenant == "default"
