"""Settings that cannot work together are refused when they load, saying which and why."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from service.settings import Settings


def test_more_request_threads_than_database_connections_are_refused() -> None:
    with pytest.raises(ValidationError, match="api_threads"):
        Settings(_env_file=None, api_threads=40, db_pool_size=10, db_max_overflow=10)


def test_the_defaults_fit_together() -> None:
    settings = Settings(_env_file=None)
    assert settings.api_threads <= settings.db_pool_size + settings.db_max_overflow
    assert settings.resolved_api_workers == 1  # the embedded SQLite database
    assert settings.job_stale_after_s >= 3 * settings.job_heartbeat_s
    assert settings.trial_grace_s >= 3 * settings.trial_heartbeat_s
    assert settings.trial_grace_s <= settings.job_stale_after_s


def test_a_worker_may_not_be_taken_for_dead_between_two_heartbeats() -> None:
    with pytest.raises(ValidationError, match="job_stale_after_s"):
        Settings(_env_file=None, job_heartbeat_s=20, job_stale_after_s=30)
    with pytest.raises(ValidationError, match="trial_grace_s"):
        Settings(_env_file=None, trial_heartbeat_s=15, trial_grace_s=30)


def test_a_taken_over_shard_finds_its_lost_trials_already_stale() -> None:
    # Trials outliving their shard's staleness would make the new owner wait for them.
    with pytest.raises(ValidationError, match="must not exceed job_stale_after_s"):
        Settings(_env_file=None, trial_grace_s=60, job_stale_after_s=30)


def test_on_a_database_server_the_api_runs_one_worker_per_core_up_to_four() -> None:
    server = Settings(_env_file=None, database_url="postgresql+psycopg://db/loss_search")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert server.resolved_api_workers == max(1, min(4, cores or 1))
    assert Settings(_env_file=None, database_url="sqlite:///x.db").resolved_api_workers == 1
    chosen = Settings(_env_file=None, database_url="postgresql+psycopg://db/x", api_workers=3)
    assert chosen.resolved_api_workers == 3
