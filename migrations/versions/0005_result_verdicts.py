"""Stored results name their verdict: the sentence explaining it is now the service's.

Results stored before this revision carry the comparison's numbers and an English summary but
no ``verdict``; this derives it from the numbers exactly as the engine decides it (see
``workers.engine.verdict``), so every stored result reads as a ``SearchResult``. Results from
before user-given splits and the validation gate also get the two fields those added, with
what they meant then. The old summary stays in the JSON, unread. Downgrade leaves the added
fields in place (they do no harm).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JOBS = sa.table("jobs", sa.column("id", sa.String()), sa.column("result", sa.JSON()))


def verdict_of(result: dict[str, Any]) -> str:
    """The verdict of a result stored before verdicts were."""
    comparison = result.get("comparison") or {}
    baseline = result.get("baseline") or {}
    best = result.get("best") or {}
    if comparison.get("test_lift") is None:
        return "no_baseline"
    if best.get("trial_number") == baseline.get("trial_number"):
        leader = (comparison.get("leader") or {}).get("trial_number")
        return "baseline_led" if leader in (None, baseline.get("trial_number")) else "not_reliable"
    low, high = comparison.get("test_lift_interval") or [0.0, 0.0]
    if low > 0:
        return "beats_baseline"
    return "worse_on_test" if high < 0 else "inconclusive"


def upgrade() -> None:
    connection = op.get_bind()
    query = sa.select(_JOBS.c.id, _JOBS.c.result).where(_JOBS.c.result.is_not(None))
    rows = connection.execute(query)
    for job_id, result in rows.all():
        comparison = (result or {}).get("comparison")
        if not isinstance(comparison, dict) or "verdict" in comparison:
            continue
        connection.execute(
            sa.update(_JOBS).where(_JOBS.c.id == job_id).values(result=completed(result))
        )


def completed(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with the fields later revisions of the engine always write."""
    updated = {**result, "comparison": {**result["comparison"], "verdict": verdict_of(result)}}
    dataset = result.get("dataset")
    if isinstance(dataset, dict) and "split" not in dataset:
        # Before split_column and test_dataset every job was split this way.
        updated["dataset"] = {**dataset, "split": "random, seeded, stratified where the task allows"}
    confirmation = result.get("confirmation")
    if isinstance(confirmation, dict) and "leader_trial_number" not in confirmation:
        # Before the validation gate the leader was always the returned setup.
        leader = (result.get("best") or {}).get("trial_number")
        updated["confirmation"] = {**confirmation, "leader_trial_number": leader}
    return updated


def downgrade() -> None:
    pass
