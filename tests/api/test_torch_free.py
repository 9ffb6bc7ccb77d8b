"""The API process never loads torch: the catalogue, the search space and the training plan it
reads at POST time are torch-free (import-linter checks the static imports; this checks what a
real process loads, including through third-party packages the linter does not follow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Builds the app on isolated, migrated embedded settings, lists the catalogue and has a job
# refused by the search-space check, then prints the torch modules loaded (none, if all is well).
API_PROCESS = """
import sys
from pathlib import Path

from fastapi.testclient import TestClient

import service.main
from service.db.migrate import upgrade_database
from service.main import create_app
from service.settings import Settings

root = Path(sys.argv[1])
settings = Settings(
    _env_file=None, data_dir=root, database_url=None, broker_url=None, data_roots=[root]
)
upgrade_database(settings.resolved_database_url)
client = TestClient(create_app(settings))
assert client.get("/v1/losses").status_code == 200
job = {"dataset": "builtin:breast_cancer", "metric": "f1", "losses": ["huber"]}
assert client.post("/v1/jobs", json=job).status_code == 422
print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
"""

ENGINE_PROCESS = """
import sys

import workers.engine.losses
import workers.engine.space
import workers.engine.training_plan

print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
"""

# The Python client and the command line on it: a notebook or a CI job that only talks to the
# service must not pay for torch.
CLIENT_PROCESS = """
import sys

import service.cli
import service.client

print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
"""


@pytest.mark.parametrize(
    "source",
    [API_PROCESS, ENGINE_PROCESS, CLIENT_PROCESS],
    ids=["api", "engine-catalogue", "client"],
)
def test_the_process_never_imports_torch(source: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", source, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", (
        "torch was imported; `python -X importtime -c 'import service.main'` shows by whom"
    )
