"""GET /metrics: Prometheus's text format (see :mod:`service.metrics`).

Left out of the OpenAPI document: it is for a scraper, not for API clients. Open by default,
as scrapers usually reach an internal port without a key; ``LOSS_SEARCH_METRICS_AUTH=admin``
asks for an admin key (Prometheus sends one with ``authorization: credentials_file``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from service.api.auth import authenticate
from service.api.deps import DatabaseDep, SettingsDep
from service.errors import ApiError
from service.metrics import render


async def metrics_access(request: Request, settings: SettingsDep, db: DatabaseDep) -> None:
    """Nothing while metrics are open; an admin key when ``metrics_auth`` is ``admin``."""
    if settings.metrics_auth == "open":
        return
    principal = await authenticate(request, db, None)
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "only an admin key may read the metrics")


router = APIRouter(include_in_schema=False, dependencies=[Depends(metrics_access)])


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Every metric, read now (the database's at this moment)."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(render(registry), media_type=CONTENT_TYPE_LATEST)
