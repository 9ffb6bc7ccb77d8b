"""Split jobs into shards: a lease per Celery task, and a shared trial-budget ledger.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_shards",
        sa.Column(
            "job_id",
            sa.String(length=36),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("shard", sa.Integer(), primary_key=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_job_shards_status_heartbeat", "job_shards", ["status", "heartbeat_at"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("shards", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(
            sa.Column("trial_budget", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("trials_reserved", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("finalizer_shard", sa.Integer(), nullable=True))
        batch.drop_column("heartbeat_at")
        batch.drop_column("worker")
        batch.drop_column("attempts")
    # Jobs from before shards ran as one task: give each its budget and its shard row.
    jobs = sa.table(
        "jobs", sa.column("id", sa.String), sa.column("spec", sa.JSON), sa.column("trial_budget")
    )
    connection = op.get_bind()
    for job_id, spec in connection.execute(sa.select(jobs.c.id, jobs.c.spec)).all():
        connection.execute(
            jobs.update().where(jobs.c.id == job_id).values(trial_budget=int(spec["n_trials"]))
        )
    op.execute(
        "INSERT INTO job_shards (job_id, shard, status, attempts) "
        "SELECT id, 0, CASE WHEN status IN ('queued', 'running') THEN 'queued' ELSE 'done' END, 0 "
        "FROM jobs"
    )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("worker", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.drop_column("finalizer_shard")
        batch.drop_column("trials_reserved")
        batch.drop_column("trial_budget")
        batch.drop_column("shards")
    op.drop_index("ix_job_shards_status_heartbeat", table_name="job_shards")
    op.drop_table("job_shards")
