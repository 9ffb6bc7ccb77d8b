"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from service.api.deps import SettingsDep
from service.db.session import get_engine
from service.errors import ApiError
from service.queue import broker_reachable
from service.schemas import ErrorDetail, ErrorResponse
from service.settings import Settings

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up.

    Async on purpose: it runs on the event loop, not in the request thread pool, so a liveness
    probe is answered at once even when every thread is busy with reads.
    """
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": ErrorResponse}})
def readyz(settings: SettingsDep) -> dict[str, object]:
    """The database and the broker are reachable."""
    checks = {
        "database": _database_ok(settings),
        "broker": broker_reachable(settings),
    }
    down = [name for name, ok in checks.items() if not ok]
    if down:
        raise ApiError(
            503,
            "not_ready",
            f"unreachable: {', '.join(down)}",
            [ErrorDetail(loc=[name], message="unreachable") for name in down],
        )
    return {"status": "ready", "checks": dict.fromkeys(checks, "ok")}


def _database_ok(settings: Settings) -> bool:
    try:
        with get_engine(
            settings.resolved_database_url, settings.database_pool
        ).connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # any driver error means "not ready"
        return False
