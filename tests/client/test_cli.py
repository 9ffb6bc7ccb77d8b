"""``loss-search submit | jobs | show | best | cancel`` against the real API, with the exit codes
scripts rely on: 0 success, 1 job failed, 2 usage or refused (4xx), 3 job cancelled, 4 not
found, 5 service unavailable."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from service.cli import app
from service.client import Client
from service.main import create_app
from service.settings import Settings
from tests.client.conftest import SMALL_JOB, Flaky, Worker
from tests.live_server import Server
from workers.jobs import run_shard

# The small job's fields that the options do not cover.
SPEC = {"families": SMALL_JOB["families"], "confirmation": SMALL_JOB["confirmation"]}
SMALL = ["--trials", "4", "--population", "4"]


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


def run(url: str, *args: str) -> Result:
    # Wide enough that no table column is cut short.
    env = {"LOSS_SEARCH_URL": url, "COLUMNS": "200", "LOSS_SEARCH_API_KEY": ""}
    return CliRunner().invoke(app, list(args), env=env)


def submitted(result: Result) -> str:
    found = re.search(r"job ([0-9a-f-]{36}) submitted", result.stderr)
    assert found, result.stderr
    return found[1]


def test_submit_then_list_show_and_cancel_a_job(api: str, spec: Path) -> None:
    done = run(
        api, "submit", "builtin:breast_cancer", "--metric", "f1", *SMALL, "--spec", str(spec)
    )
    assert done.exit_code == 0, done.output
    job_id = done.stdout.strip()  # the id alone: JOB=$(loss-search submit ...)
    listed = run(api, "jobs")
    assert listed.exit_code == 0
    assert job_id in listed.stdout
    assert "builtin:breast_cancer" in listed.stdout
    shown = run(api, "show", job_id, "--json")
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["spec"]["confirmation"]["folds"] == 0
    assert "queued" in run(api, "show", job_id).stdout
    cancelled = run(api, "cancel", job_id)
    assert (cancelled.exit_code, cancelled.stdout) == (0, f"job {job_id} cancelled\n")
    again = run(api, "cancel", job_id)
    assert again.exit_code == 2
    assert "409 already_finished: job" in again.stderr


def test_a_local_file_is_uploaded_first(api: str, data_root: Path) -> None:
    done = run(api, "submit", str(data_root / "small.csv"), "--target", "label", "--metric", "f1")
    assert done.exit_code == 0, done.output
    assert re.search(r"uploaded .*small.csv as dataset:\S+ \(120 rows\)", done.stderr)
    job = httpx.get(f"{api}/v1/jobs/{done.stdout.strip()}").json()
    assert job["spec"]["dataset"].startswith("dataset:")


def test_errors_exit_with_their_codes_and_the_apis_message(fast: Settings, api: str) -> None:
    unknown = run(api, "show", "no-such-job")
    assert unknown.exit_code == 4
    assert unknown.stderr == "loss-search: 404 not_found: no job with id 'no-such-job'\n"
    refused = run(api, "submit", "builtin:breast_cancer", "--metric", "mae")
    assert refused.exit_code == 2
    assert "422 validation_error: metric 'mae' does not apply to a binary task" in refused.stderr
    invalid = run(api, "submit", "builtin:breast_cancer", "--metric", "f1", "--trials", "0")
    assert invalid.exit_code == 2  # checked before it is sent
    assert "invalid job" in invalid.stderr
    assert run(api, "show").exit_code == 2  # usage
    with Server(Flaky(create_app(fast), failures=100, retry_after="0")) as down:
        unavailable = run(down, "jobs")
    assert unavailable.exit_code == 5
    assert "503 unavailable: try again" in unavailable.stderr


def test_submit_wait_shows_the_result_and_best_prints_it(
    api: str, worker: Worker, spec: Path, tmp_path: Path
) -> None:
    done = run(
        api,
        "submit",
        "builtin:breast_cancer",
        "--metric",
        "f1",
        *SMALL,
        "--spec",
        str(spec),
        "--wait",
    )
    assert done.exit_code == 0, done.output
    assert "BASELINE" in done.stdout
    assert "verdict" in done.stdout
    job_id = submitted(done)
    table = run(api, "best", job_id)
    assert table.exit_code == 0
    assert "cross_entropy" in table.stdout
    best = json.loads(run(api, "best", job_id, "--format", "json").stdout)
    if best["best"]["trial_number"] == best["baseline"]["trial_number"]:  # the baseline is kept
        assert "BASELINE (keep it)" in table.stdout  # one column, not the baseline twice
        assert "BEST" not in table.stdout
    assert "p >= " in table.stdout  # f1's threshold as a probability, with its logit
    as_json = run(api, "best", job_id, "--format", "json")
    assert json.loads(as_json.stdout)["final"] is True
    written = run(api, "best", job_id, "-o", str(tmp_path / "best.txt"))
    assert written.exit_code == 0
    assert "BASELINE" in (tmp_path / "best.txt").read_text()


def test_submit_wait_exits_3_when_the_job_is_cancelled(fast: Settings, spec: Path) -> None:
    with Server(create_app(fast)) as url:
        canceller = Worker(fast, url, lambda job_id: httpx.post(f"{url}/v1/jobs/{job_id}/cancel"))
        try:
            done = run(url, "submit", "builtin:iris", "--metric", "accuracy", "--wait")
        finally:
            canceller.stop()
    assert done.exit_code == 3, done.output
    assert f"job {submitted(done)} cancelled" in done.stderr


def test_submit_wait_exits_1_when_the_job_fails(
    fast: Settings, data_root: Path, spec: Path
) -> None:
    def lose_the_data(job_id: str) -> None:
        (data_root / "small.csv").unlink()  # accepted at POST, gone when the worker reads it
        run_shard(job_id, 0, fast)

    with Server(create_app(fast)) as url:
        breaker = Worker(fast, url, lose_the_data)
        try:
            done = run(url, "submit", "small.csv", "--target", "label", "--metric", "f1", "--wait")
        finally:
            breaker.stop()
    assert done.exit_code == 1, done.output
    assert f"job {submitted(done)} failed: " in done.stderr


def test_best_prints_the_code(api: str, worker: Worker, spec: Path, tmp_path: Path) -> None:
    # Needs GET /v1/jobs/{id}/best?format=pytorch|keras (text/x-python).
    done = run(
        api, "submit", "builtin:breast_cancer", "--metric", "f1", *SMALL, "--spec", str(spec)
    )
    job_id = done.stdout.strip()
    with Client(api) as client:
        client.job(job_id).wait()
    pytorch = run(api, "best", job_id, "--format", "pytorch")
    assert pytorch.exit_code == 0, pytorch.output
    assert "torch" in pytorch.stdout
    keras = run(api, "best", job_id, "--format", "keras", "-o", str(tmp_path / "loss.py"))
    assert keras.exit_code == 0, keras.output
    assert "keras" in (tmp_path / "loss.py").read_text()
