"""Specs stored in the old flat shape read as the one job spec once the database is upgraded
(revision 0006), and a downgrade writes the flat shape back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import select

from service.db.migrate import alembic_config, upgrade_database
from service.db.models import JobRow
from service.db.session import get_engine
from tests.db.legacy import insert_job
from workers.engine.spec import Budget, JobSpec, MetricRef, Parallelism, Task

# As the API stored a planned spec before revision 0006.
FLAT: dict[str, Any] = {
    "dataset": "page_blocks0.csv.gz",
    "target": ["target"],
    "task": "binary",
    "metric": {"name": "recall_at_precision", "params": {"min_precision": 0.9}},
    "n_trials": 40,
    "families": ["proxy", "surrogate"],
    "seed": 7,
    "timeout_s": 600.0,
    "losses": [],
    "overrides": {"focal": {"gamma": [0.5, 3.0]}},
    "population_size": 8,
    "confirmation_top_k": 2,
    "confirmation_seeds": 4,
    "split_column": None,
    "test_dataset": "holdout.csv",
}


def _job_with_spec(url: str, stored: dict[str, Any], shards: int) -> str:
    spec = JobSpec(
        dataset="builtin:iris",
        task=Task.MULTICLASS,
        metric=MetricRef(name="accuracy"),
        budget=Budget(n_trials=40),
        parallelism=Parallelism(shards=shards),
    )
    return insert_job(url, spec, spec=stored)


def _stored_spec(url: str, job_id: str) -> dict[str, Any]:
    # Core, not the ORM: after a downgrade the table lacks the newest columns.
    with get_engine(url).connect() as connection:
        spec = connection.execute(select(JobRow.spec).where(JobRow.id == job_id)).scalar_one()
    return dict(spec)


def test_a_flat_spec_becomes_the_job_spec_it_meant(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    command.upgrade(alembic_config(url), "0005")
    job_id = _job_with_spec(url, FLAT, shards=2)

    upgrade_database(url)

    spec = JobSpec.model_validate(_stored_spec(url, job_id))
    assert spec.task is Task.BINARY
    assert spec.metric == MetricRef(name="recall_at_precision", params={"min_precision": 0.9})
    assert (spec.budget.n_trials, spec.budget.timeout_s) == (40, 600.0)
    assert spec.losses is None  # an empty list meant every loss
    assert spec.params == {"focal": {"gamma": [0.5, 3.0]}}
    assert (spec.parallelism.population_size, spec.parallelism.shards) == (8, 2)
    assert (spec.confirmation.top_k, spec.confirmation.seeds) == (2, 4)
    assert (spec.seed, spec.test_dataset, spec.split_column) == (7, "holdout.csv", None)


def test_a_downgrade_writes_the_flat_spec_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    command.upgrade(alembic_config(url), "0005")
    job_id = _job_with_spec(url, FLAT, shards=1)
    upgrade_database(url)

    command.downgrade(alembic_config(url), "0005")

    assert _stored_spec(url, job_id) == FLAT
