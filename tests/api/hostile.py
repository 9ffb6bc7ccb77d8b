"""Helpers for the hostile-input tests: send a request, check the refusal, count stored jobs.

Every refusal must say what is wrong, use the one error shape ``{"error": {"type", "message",
"details"}}``, and leave the jobs table as it was; the table is queried directly, not through the
API.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.db.models import JobRow
from service.db.session import session_scope
from service.settings import Settings


def stored_jobs(settings: Settings) -> int:
    """Rows in the jobs table."""
    with session_scope(settings.resolved_database_url) as session:
        return int(session.scalar(select(func.count()).select_from(JobRow)) or 0)


class Reply(Protocol):
    """What the tests read of a response (TestClient's and httpx's alike)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def json(self) -> Any: ...


def assert_error(response: Reply, status: int, *fragments: str) -> dict[str, Any]:
    """The response has ``status``, the one error shape, and a message with every fragment."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"type", "message", "details"}
    assert isinstance(error["details"], list)
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    return error


def refuse(
    client: TestClient, settings: Settings, body: dict[str, Any], *fragments: str
) -> dict[str, Any]:
    """POST ``body``: a 422 whose message has every fragment, and no job row created."""
    before = stored_jobs(settings)
    error = assert_error(client.post("/v1/jobs", json=body), 422, *fragments)
    assert error["type"] == "validation_error"
    assert stored_jobs(settings) == before, "a refused job must not be stored"
    return error


def job(dataset: str, **fields: Any) -> dict[str, Any]:
    """A job body for ``dataset`` with target ``label`` and metric f1, plus ``fields``."""
    return {"dataset": dataset, "target": "label", "metric": "f1", **fields}


def write_table(path: Path, rows: int = 60, **columns: Any) -> None:
    """A CSV with a feature ``x``, a 0/1 ``label`` and ``columns``."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "label": np.arange(rows) % 2, **columns})
    frame.to_csv(path, index=False)
