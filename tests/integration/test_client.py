"""The Python client and ``loss-search submit --wait`` drive the real API and a real Celery
worker process: submit, follow to the end, read the result."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.client import Client
from service.db.models import JobStatus
from tests.integration.harness import Service

pytestmark = pytest.mark.integration

# A few seconds of training: 4 trials as one population, a small confirmation.
SMALL_JOB = {
    "dataset": "builtin:breast_cancer",
    "metric": "f1",
    "budget": {"n_trials": 4},
    "families": ["proxy"],
    "parallelism": {"population_size": 4},
    "confirmation": {"top_k": 1, "seeds": 2, "folds": 0},
}


# The embedded backend only: the client adds nothing backend-specific to what
# test_end_to_end.py checks on both.
@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_the_client_and_the_cli_follow_a_job_to_its_result(
    service: Service, tmp_path: Path
) -> None:
    with Client(service.url) as client:
        job = client.submit(SMALL_JOB)
        ended = job.wait(progress=True)
        assert ended.status is JobStatus.SUCCEEDED, ended.error
        best = job.best()
        assert best.final
        assert best.baseline is not None
        assert best.baseline.loss == "cross_entropy"
        trials = job.trials()
        assert [t.number for t in trials] == [0, 1, 2, 3]
        assert job.report().job.id == job.id

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({k: SMALL_JOB[k] for k in ("families", "confirmation")}))
    command = ["submit", "builtin:breast_cancer", "--metric", "f1", "--trials", "4"]
    command += ["--population", "4", "--spec", str(spec), "--wait"]
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", *command],
        env={**service.env, "LOSS_SEARCH_URL": service.url, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "BASELINE" in done.stdout
    assert "submitted; following it" in done.stderr
