"""Trial records say which earlier job a warm-start trial's setup came from.

Trials recorded before this revision came from no earlier job: the column stays null for them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_trials") as table:
        table.add_column(sa.Column("warm_start_from", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_trials") as table:
        table.drop_column("warm_start_from")
