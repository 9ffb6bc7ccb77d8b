"""What the storm of ``bench.load`` left behind: the 202s the clients got, against what
GET /v1/jobs lists and what the database holds (read directly, not through the API)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from sqlalchemy import create_engine, text

from bench.common import table
from bench.load_clients import Outcome

LIST_TIMEOUT_S = 600.0  # a page of GET /v1/jobs may be slow; nothing else runs meanwhile


@dataclass(frozen=True)
class StormChecks:
    """What the storm left behind, read after the service had drained its backlog."""

    accepted: int  # 202 responses
    unlisted: int | None  # accepted jobs GET /v1/jobs did not list; None if listing failed
    listing_error: str | None
    left_behind: Counter[str]  # status of each job in the database the client got no 202 for
    lost: int  # 202 responses whose job is not in the database
    failures: Counter[str]  # the error of each failed job in the database


def check_storm(
    url: str, database_url: str, outcomes: Sequence[Outcome], job_id: str
) -> StormChecks:
    """Compare the 202s the clients got with GET /v1/jobs and with the database itself."""
    accepted = {o.job_id for o in outcomes if o.job_id is not None}
    try:
        unlisted: int | None = len(accepted - _listed_ids(url))
        listing_error = None
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        unlisted, listing_error = None, f"{type(exc).__name__}: {exc}"
    stored = _stored_jobs(database_url)
    expected = accepted | {job_id}
    return StormChecks(
        accepted=len(accepted),
        unlisted=unlisted,
        listing_error=listing_error,
        left_behind=Counter(status for id_, (status, _) in stored.items() if id_ not in expected),
        lost=len(accepted - stored.keys()),
        failures=Counter(
            error or "no error recorded" for status, error in stored.values() if status == "failed"
        ),
    )


def _listed_ids(url: str) -> set[str]:
    """Every job id GET /v1/jobs lists, page by page (nothing is submitted meanwhile)."""
    ids: set[str] = set()
    offset, total = 0, 1
    with httpx.Client(base_url=url, timeout=LIST_TIMEOUT_S) as client:
        while offset < total:
            response = client.get("/v1/jobs", params={"limit": 500, "offset": offset})
            response.raise_for_status()
            page = response.json()
            if not page["items"]:
                break
            ids.update(item["id"] for item in page["items"])
            offset, total = offset + len(page["items"]), page["total"]
    return ids


def _stored_jobs(database_url: str) -> dict[str, tuple[str, str | None]]:
    """Job id → (status, error), read from the database directly rather than through the API."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, status, error FROM jobs")).all()
    finally:
        engine.dispose()
    return {str(id_): (str(status), error) for id_, status, error in rows}


def checks_table(checks: StormChecks) -> str:
    """The checks as a markdown table."""
    listed = (
        f"no: could not list ({checks.listing_error})"
        if checks.unlisted is None
        else ("yes" if checks.unlisted == 0 else f"no: {checks.unlisted} missing")
    )
    behind = sum(checks.left_behind.values())
    statuses = ", ".join(f"{n} {status}" for status, n in checks.left_behind.most_common())
    rows: list[list[object]] = [
        ["jobs accepted (202)", checks.accepted],
        ["every 202 listed by GET /v1/jobs", listed],
        [
            "every 202 has its job in the database",
            "yes" if not checks.lost else f"no: {checks.lost}",
        ],
        [
            "jobs in the database without a 202",
            f"{behind} ({statuses})" if behind else "0",
        ],
    ]
    rows += [[f"failed job: {_one_line(error)}", n] for error, n in checks.failures.most_common()]
    return table(["check", "result"], rows)


def _one_line(message: str, limit: int = 120) -> str:
    # Tracebacks and pipes would break the markdown table.
    return " ".join(message.split()).replace("|", "/")[:limit]
