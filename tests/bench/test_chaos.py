"""bench.chaos: its options and how it turns run outcomes into tables (no process is started)."""

from __future__ import annotations

import pytest

from bench.chaos import good, liveness_env, parse_args, report, summary_row
from service.settings import Settings
from tests.integration.harness import Answer
from tests.integration.servers import FaultOutcome


def outcome(**changes: object) -> FaultOutcome:
    fields: dict[str, object] = {
        "status": "succeeded",
        "budget": 16,
        "states": {"complete": 10, "pruned": 6, "lost": 2},
        "completed_lost": [],
        "baseline": True,
        "unacceptable": [],
        "wall_s": 30.0,
    }
    fields.update(changes)
    return FaultOutcome(**fields)  # type: ignore[arg-type]


def test_the_defaults_are_twenty_runs_of_one_and_two_shards() -> None:
    args = parse_args([])
    assert (args.runs, args.shards, args.trials, args.timeout) == (20, [1, 2], 16, 300)
    assert args.liveness == "fast"


def test_runs_and_shards_can_be_chosen() -> None:
    args = parse_args(["--runs", "2", "--shards", "2", "--shards", "3"])
    assert (args.runs, args.shards) == (2, [2, 3])


@pytest.mark.parametrize(
    "argv", [["--runs", "0"], ["--shards", "0"], ["--trials", "2"], ["--liveness", "slow"]]
)
def test_nonsense_is_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_default_liveness_gives_the_workers_the_settings_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert liveness_env("fast") == {}  # the harness's short times stay
    env = liveness_env("default")
    assert "LOSS_SEARCH_TORCH_THREADS" not in env
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    loaded = Settings(_env_file=None)  # loads: the times pass the settings' own checks
    assert loaded.job_stale_after_s == Settings.model_fields["job_stale_after_s"].default
    assert loaded.trial_grace_s == Settings.model_fields["trial_grace_s"].default
    assert loaded.reaper_interval_s == Settings.model_fields["reaper_interval_s"].default


def test_a_run_is_good_only_if_it_meets_every_target() -> None:
    assert good(outcome())
    assert not good(outcome(status="running"))
    assert not good(outcome(completed_lost=["trial 3: complete 0.9 before, None after"]))
    assert not good(outcome(states={"complete": 9, "pruned": 6}))  # budget unmet
    assert not good(outcome(baseline=False))
    assert not good(outcome(states={"complete": 10, "pruned": 6, "running": 1}))
    assert not good(outcome(unacceptable=[Answer("GET", "/v1/jobs/x", 500)]))


def test_the_summary_counts_over_the_runs() -> None:
    runs = [
        outcome(wall_s=10.0),
        outcome(status="running", states={"complete": 5, "running": 2}, wall_s=30.0),
        outcome(completed_lost=["a", "b"], baseline=False, wall_s=20.0),
    ]
    assert summary_row(2, runs) == [2, 3, 2, 2, 2, 2, 2, 0, 20.0, 30.0]


def test_the_report_has_a_summary_and_a_row_per_run() -> None:
    text = report(1, [outcome(), outcome(status="failed", error="boom")])
    lines = text.splitlines()
    assert lines[0] == "### shards = 1"
    assert "| shards | runs | jobs completed | completed trials lost |" in text
    assert "| 1 | 2 | 1 | 0 | 2 | 2 | 0 | 0 | 30 | 30 |" in lines
    assert "| 2 | failed | 10 | 6 | 2 | 0 | 0 | 0 | yes | 0 | 30 |" in lines
