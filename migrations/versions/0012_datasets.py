"""Uploaded datasets (stored by content, profiled) and which jobs read them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ux_datasets_tenant_fingerprint", "datasets", ["tenant", "fingerprint"], unique=True
    )
    op.create_index("ix_datasets_tenant_created_at", "datasets", ["tenant", "created_at"])
    op.create_table(
        "job_datasets",
        sa.Column(
            "job_id",
            sa.String(length=36),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("dataset_id", sa.String(length=36), primary_key=True),
    )
    op.create_index("ix_job_datasets_dataset_id", "job_datasets", ["dataset_id"])


def downgrade() -> None:
    op.drop_index("ix_job_datasets_dataset_id", table_name="job_datasets")
    op.drop_table("job_datasets")
    op.drop_index("ix_datasets_tenant_created_at", table_name="datasets")
    op.drop_index("ux_datasets_tenant_fingerprint", table_name="datasets")
    op.drop_table("datasets")
