"""What ``loss-search up`` hands its API and worker: a shared, fresh metrics folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli.serve import MULTIPROC_ENV, children_environment
from service.settings import Settings


def test_up_gives_both_processes_one_fresh_metrics_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    settings = Settings(_env_file=None, data_dir=tmp_path)
    stale = tmp_path / "metrics" / "counter_old-1.db"
    stale.parent.mkdir()
    stale.write_bytes(b"from an earlier run")
    env = children_environment(settings)
    assert env[MULTIPROC_ENV] == str(tmp_path.resolve() / "metrics")
    assert list(Path(env[MULTIPROC_ENV]).iterdir()) == []


def test_a_folder_set_by_the_operator_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path / "theirs"))
    env = children_environment(Settings(_env_file=None, data_dir=tmp_path))
    assert env[MULTIPROC_ENV] == str(tmp_path / "theirs")
