"""Jobs written the way the code of an older revision wrote them: only the columns the tables
have at that revision (the ORM models describe the newest one)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from service.db import jobs as jobs_repo
from service.db.session import get_engine
from workers.engine.spec import JobSpec


def insert_job(url: str, spec: JobSpec, /, **values: Any) -> str:
    """Insert a queued job for ``spec`` (and its shards) with ``values`` overriding columns;
    columns the database does not have yet are left out. Returns the job id."""
    row, shards = jobs_repo.new_job(spec=spec, tenant="default")
    engine = get_engine(url)
    metadata = sa.MetaData()
    jobs = sa.Table("jobs", metadata, autoload_with=engine)
    job_shards = sa.Table("job_shards", metadata, autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(jobs.insert().values(_existing(jobs, {**_columns(row), **values})))
        for shard in shards:
            connection.execute(job_shards.insert().values(_existing(job_shards, _columns(shard))))
    return row.id


def _columns(row: Any) -> dict[str, Any]:
    return {column.name: getattr(row, column.key) for column in row.__table__.columns}


def _existing(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if name in table.c}
