"""Results stored before verdicts existed still read as the engine's ``SearchResult`` once the
database is upgraded (revision 0005)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from alembic import command

from service.db.migrate import alembic_config, upgrade_database
from service.db.models import JobRow
from service.db.session import session_scope
from tests.db.legacy import insert_job
from workers.engine.results import SearchResult, Verdict
from workers.engine.spec import Budget, JobSpec, MetricRef, Task

SPEC = JobSpec(
    dataset="builtin:breast_cancer",
    task=Task.BINARY,
    metric=MetricRef(name="f1"),
    budget=Budget(n_trials=20),
)


PLAN = {
    "optimizer": "adamw",
    "batch_size": 32,
    "max_epochs": 60,
    "eval_every_epochs": 1,
    "early_stopping_patience_evals": 8,
    "weight_decay": 0.0001,
}


def _setup(trial_number: int, loss: str, test: float) -> dict[str, Any]:
    return {
        "trial_number": trial_number,
        "arm": "baseline" if loss == "cross_entropy" else "search",
        "family": "proxy" if loss == "cross_entropy" else "weighted",
        "loss": loss,
        "loss_params": {} if loss == "cross_entropy" else {"gamma": 2.0},
        "training": {**PLAN, "learning_rate": 0.003, "epochs": 12, "seeds": [11, 12]},
        "threshold": {"logit": 0.1, "probability": 0.525},
        "trial_validation": 0.9,
        "validation": 0.91,
        "validation_std": 0.01,
        "validation_seeds": [0.9, 0.92],
        "test": test,
        "test_interval": [test - 0.02, test + 0.02],
        "test_seeds": [test, test],
        "failed_runs": 0,
        "output_link": "identity",
        "code": "import torch\n",
    }


# As a worker stored it before revision 0005: an English summary, no verdict, no split label,
# no leader_trial_number.
LEGACY: dict[str, Any] = {
    "metric": {"name": "f1", "params": {}, "direction": "maximize"},
    "best": _setup(7, "focal", 0.93),
    "baseline": _setup(0, "cross_entropy", 0.90),
    "comparison": {
        "test_lift": 0.03,
        "test_lift_interval": [0.01, 0.05],
        "probability_better": 0.99,
        "significant": True,
        "summary": "focal beats the baseline on test f1 ...",
    },
    "confirmation": {
        "top_k": 3,
        "seeds": 2,
        "bootstrap_resamples": 500,
        "finalists": [
            {
                "trial_number": 7,
                "loss": "focal",
                "family": "weighted",
                "trial_validation": 0.9,
                "validation_mean": 0.91,
                "validation_std": 0.01,
                "completed_runs": 2,
                "winner": True,
            }
        ],
    },
    "network": {"type": "mlp", "hidden": [64, 64], "activation": "relu"},
    "dataset": {
        "rows": 569,
        "rows_dropped_missing_target": 0,
        "feature_columns": 30,
        "numeric_columns": 30,
        "encoded_features": 30,
        "split_rows": {"train": 341, "validation": 114, "test": 114},
        "class_counts": {"0": 212, "1": 357},
    },
    "search_space": {"proxy": ["cross_entropy"], "weighted": ["focal"]},
    "training": PLAN,
    "trial_counts": {"complete": 20},
    "environment": {"loss-search": "0.1.0", "python": "3.11.7", "device": "cpu"},
}


def _legacy(**comparison: Any) -> dict[str, Any]:
    result = copy.deepcopy(LEGACY)
    result["comparison"].update(comparison)
    return result


def _kept_baseline(leader: int) -> dict[str, Any]:
    result = _legacy(
        test_lift=0.0,
        test_lift_interval=[0.0, 0.0],
        probability_better=0.0,
        significant=False,
        leader={"trial_number": leader, "loss": "focal" if leader else "cross_entropy"},
    )
    result["best"] = copy.deepcopy(result["baseline"])
    return result


CASES = [
    (_legacy(), Verdict.BEATS_BASELINE),
    (_legacy(test_lift=0.01, test_lift_interval=[-0.01, 0.03]), Verdict.INCONCLUSIVE),
    (_legacy(test_lift=-0.03, test_lift_interval=[-0.05, -0.01]), Verdict.WORSE_ON_TEST),
    (_kept_baseline(leader=0), Verdict.BASELINE_LED),
    (_kept_baseline(leader=7), Verdict.NOT_RELIABLE),
    ({**_legacy(test_lift=None), "baseline": None}, Verdict.NO_BASELINE),
]


@pytest.mark.parametrize(("stored", "verdict"), CASES, ids=[v.value for _, v in CASES])
def test_a_result_stored_before_verdicts_gets_the_verdict_its_numbers_say(
    tmp_path: Path, stored: dict[str, Any], verdict: Verdict
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0004")
    job_id = insert_job(url, SPEC, result=stored)
    upgrade_database(url)
    with session_scope(url) as session:
        upgraded = session.get(JobRow, job_id)
        assert upgraded is not None
        result = SearchResult.model_validate(upgraded.result)
    assert result.comparison.verdict is verdict
    assert result.dataset.split == "random, seeded, stratified where the task allows"
    assert result.confirmation.leader_trial_number == stored["best"]["trial_number"]
