"""``loss-search tenants``: an operator sets a tenant's limits at the database, and the real API
holds the tenant to them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.main import create_app
from service.settings import Settings
from tests.api.keys import bearer
from tests.cli.test_keys import create, loss_search

JOB = {"dataset": "builtin:iris", "metric": "accuracy", "budget": {"n_trials": 4}}


def rows(output: str) -> dict[str, list[str]]:
    """A printed table's rows by their first cell (the header's included)."""
    return {line.split("  ")[0]: line.split() for line in output.splitlines()}


def test_limits_set_from_the_command_line_hold_in_the_api(settings: Settings) -> None:
    key = create(settings, "team-a")
    done = loss_search(
        settings, "tenants", "limits", "team-a", "--max-queued-jobs", "1",
        "--max-trials-per-job", "4",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "tenant team-a: 0 jobs queued, 0 running"
    table = rows(done.stdout)
    assert table["max_queued_jobs"] == ["max_queued_jobs", "1", "no", "limit", "1"]
    assert table["max_concurrent_jobs"][1] == "(default)"

    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/jobs", json=JOB, headers=bearer(key)).status_code == 202
        refused = client.post("/v1/jobs", json=JOB, headers=bearer(key))
        assert refused.status_code == 429
        assert "max_queued_jobs = 1" in refused.json()["error"]["message"]
        too_long = {**JOB, "budget": {"n_trials": 5}}
        assert client.post("/v1/jobs", json=too_long, headers=bearer(key)).status_code == 422

    listed = loss_search(settings, "tenants", "list")
    assert rows(listed.stdout)["team-a"] == ["team-a", "no", "limit", "1", "4", "1", "0"]

    # Setting one limit keeps the others; --reset goes back to the defaults.
    kept = loss_search(settings, "tenants", "limits", "team-a", "--max-concurrent-jobs", "3")
    assert rows(kept.stdout)["max_queued_jobs"][1] == "1"
    reset = loss_search(settings, "tenants", "limits", "team-a", "--reset")
    own = [rows(reset.stdout)[name][1] for name in ("max_concurrent_jobs", "max_queued_jobs")]
    assert own == ["(default)", "(default)"]


def test_a_limit_must_be_a_positive_number(settings: Settings) -> None:
    done = loss_search(settings, "tenants", "limits", "team-a", "--max-queued-jobs", "0")
    assert done.returncode == 2
    assert "--max-queued-jobs" in done.stderr
