"""Fixtures shared by every test package: isolated settings, a migrated database, data files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from service.db.migrate import upgrade_database
from service.main import create_app
from service.settings import Settings

# One torch thread per test process: pytest-xdist already runs a process per core, and torch's
# default of one thread per core on top of that oversubscribes the cores (spinning OpenMP threads
# slow every process down). Set before any test module imports torch.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DATASETS = REPO_ROOT / "bench" / "datasets"


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """A data root holding a few small files the tests refer to by relative path."""
    root = tmp_path / "data"
    root.mkdir()
    rng = np.random.default_rng(0)
    n = 120
    x = rng.normal(size=(n, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["colour"] = rng.choice(["red", "green", "blue"], size=n)
    frame["label"] = (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    frame.to_csv(root / "small.csv", index=False)
    frame.to_parquet(root / "small.parquet")
    single = frame.assign(label=1)
    single.to_csv(root / "single_class.csv", index=False)
    constant = pd.DataFrame({"f1": 1.0, "f2": 3.0, "label": frame["label"]})
    constant.to_csv(root / "constant_features.csv", index=False)
    (root / "broken.csv").write_bytes(b"\x00\x01\x02 not a csv \xff\xfe")
    (root / "empty.csv").write_text("")
    return root


@pytest.fixture
def settings(tmp_path: Path, data_root: Path) -> Settings:
    """Embedded-default settings isolated in ``tmp_path``, with the database migrated."""
    state = tmp_path / "state"
    configured = Settings(
        _env_file=None,
        data_dir=state,
        database_url=None,
        broker_url=None,
        data_roots=[data_root],
        queue_name="test-queue",
    )
    upgrade_database(configured.resolved_database_url)
    return configured


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The API on the real app factory, against the embedded SQLite database and broker."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client
