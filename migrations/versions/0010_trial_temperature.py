"""Trial records carry the temperature fitted on validation (log_loss, brier and ece jobs).

Trials recorded before this revision have none (their temperature lives only in the Optuna
study's user attributes); the column stays null for them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_trials") as table:
        table.add_column(sa.Column("temperature", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_trials") as table:
        table.drop_column("temperature")
