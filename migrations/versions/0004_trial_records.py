"""Trial records and job progress: the API reads its own tables, not the Optuna study.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTS = ("waiting", "running", "complete", "pruned", "failed", "lost")


def upgrade() -> None:
    op.create_table(
        "job_trials",
        sa.Column(
            "job_id",
            sa.String(length=36),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("arm", sa.String(length=16), nullable=True),
        sa.Column("family", sa.String(length=32), nullable=True),
        sa.Column("loss", sa.String(length=64), nullable=True),
        sa.Column("loss_params", sa.JSON(), nullable=False),
        sa.Column("training", sa.JSON(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_job_trials_job_value", "job_trials", ["job_id", "value"])
    op.create_index("ix_job_trials_job_state", "job_trials", ["job_id", "state"])
    with op.batch_alter_table("jobs") as batch:
        for state in _COUNTS:
            batch.add_column(
                sa.Column(f"trials_{state}", sa.Integer(), nullable=False, server_default="0")
            )
        batch.add_column(sa.Column("best_trial_number", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("best_value", sa.Float(), nullable=True))
        batch.add_column(sa.Column("best_family", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("best_loss", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("job_shards") as batch:
        batch.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sends", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("job_shards") as batch:
        batch.drop_column("sends")
        batch.drop_column("sent_at")
    with op.batch_alter_table("jobs") as batch:
        for column in ("progress_at", "best_loss", "best_family", "best_value"):
            batch.drop_column(column)
        batch.drop_column("best_trial_number")
        for state in _COUNTS:
            batch.drop_column(f"trials_{state}")
    op.drop_index("ix_job_trials_job_state", table_name="job_trials")
    op.drop_index("ix_job_trials_job_value", table_name="job_trials")
    op.drop_table("job_trials")
