"""Stored specs take the shape of the one job spec: the body a client sends, planned.

Until this revision a job's spec was stored flat (``n_trials``, ``timeout_s``, ``overrides``,
``population_size``, ``confirmation_top_k`` ...), a shape of its own that the API translated to
and from. Now the request body, the stored spec and the spec in responses are the same model
(``workers.engine.spec.JobSpec``): this rewrites every stored spec into it, taking the shard
count from the job row. Downgrade writes the flat shape back.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JOBS = sa.table(
    "jobs",
    sa.column("id", sa.String()),
    sa.column("spec", sa.JSON()),
    sa.column("shards", sa.Integer()),
)


def nested(flat: dict[str, Any], shards: int) -> dict[str, Any]:
    """A spec stored before this revision, in the job spec's shape."""
    return {
        "dataset": flat["dataset"],
        "target": list(flat["target"]),
        "task": flat["task"],
        "split_column": flat.get("split_column"),
        "test_dataset": flat.get("test_dataset"),
        "metric": {"name": flat["metric"]["name"], "params": flat["metric"].get("params") or {}},
        "budget": {"n_trials": flat["n_trials"], "timeout_s": flat.get("timeout_s")},
        "families": list(flat["families"]),
        "losses": list(flat.get("losses") or ()) or None,  # () meant every loss
        "params": flat.get("overrides") or None,
        "seed": flat.get("seed", 0),
        "parallelism": {"population_size": flat.get("population_size"), "shards": shards},
        "confirmation": {
            "top_k": flat.get("confirmation_top_k", 3),
            "seeds": flat.get("confirmation_seeds", 5),
        },
    }


def flat(spec: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`nested`, for a downgrade."""
    return {
        "dataset": spec["dataset"],
        "target": spec["target"],
        "task": spec["task"],
        "metric": spec["metric"],
        "n_trials": spec["budget"]["n_trials"],
        "families": spec["families"],
        "seed": spec["seed"],
        "timeout_s": spec["budget"]["timeout_s"],
        "losses": spec["losses"] or [],
        "overrides": spec["params"] or {},
        "population_size": spec["parallelism"]["population_size"],
        "confirmation_top_k": spec["confirmation"]["top_k"],
        "confirmation_seeds": spec["confirmation"]["seeds"],
        "split_column": spec["split_column"],
        "test_dataset": spec["test_dataset"],
    }


def upgrade() -> None:
    connection = op.get_bind()
    for job_id, spec, shards in connection.execute(sa.select(_JOBS)).all():
        if "n_trials" in spec:  # the flat shape
            update = sa.update(_JOBS).where(_JOBS.c.id == job_id)
            connection.execute(update.values(spec=nested(spec, shards)))


def downgrade() -> None:
    connection = op.get_bind()
    for job_id, spec, _ in connection.execute(sa.select(_JOBS)).all():
        if "budget" in spec:
            update = sa.update(_JOBS).where(_JOBS.c.id == job_id)
            connection.execute(update.values(spec=flat(spec)))
