"""A tenant's webhooks: its signing secret and the endpoints that get every job's events.

Every route acts on the caller's own tenant (an admin key: its own tenant too); another
tenant's endpoint is a 404, like one that does not exist.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from service.api.auth import PrincipalDep, authenticate
from service.api.deps import DatabaseDep, SettingsDep
from service.db import webhooks as repo
from service.db.models import WebhookEndpointRow
from service.errors import not_found
from service.schemas import ErrorResponse
from service.schemas.webhooks import EndpointIn, EndpointOut, SecretOut, WebhookEvent
from service.webhooks.signing import new_secret
from service.webhooks.subscriptions import checked

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], dependencies=[Depends(authenticate)])
_ERRORS: dict[int | str, dict[str, object]] = {503: {"model": ErrorResponse}}


@router.get("/secret", responses=_ERRORS)
def get_secret(principal: PrincipalDep, db: DatabaseDep) -> SecretOut:
    """The secret that signs every webhook of the tenant's jobs (made on first request)."""
    with db.session() as session:
        secret = repo.tenant_secret(session=session, tenant=principal.tenant, make=new_secret)
        session.commit()
    return SecretOut(secret=secret)


@router.post(
    "/endpoints",
    status_code=status.HTTP_201_CREATED,
    responses={**_ERRORS, 422: {"model": ErrorResponse}},
)
def add_endpoint(
    endpoint: EndpointIn, principal: PrincipalDep, settings: SettingsDep, db: DatabaseDep
) -> EndpointOut:
    """Register a URL to receive these events of every job of the tenant."""
    stored = checked(endpoint, settings)
    with db.session() as session:
        row = repo.add_endpoint(session=session, tenant=principal.tenant, **stored)
        out = _out(row)
        session.commit()
    return out


@router.get("/endpoints", responses=_ERRORS)
def list_endpoints(principal: PrincipalDep, db: DatabaseDep) -> list[EndpointOut]:
    """The tenant's endpoints, oldest first."""
    with db.session() as session:
        return [_out(row) for row in repo.endpoints(session=session, tenant=principal.tenant)]


@router.delete(
    "/endpoints/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_ERRORS, 404: {"model": ErrorResponse}},
)
def remove_endpoint(endpoint_id: str, principal: PrincipalDep, db: DatabaseDep) -> Response:
    """Stop sending to an endpoint (messages already queued for it are still sent)."""
    with db.session() as session:
        if not repo.remove_endpoint(
            session=session, tenant=principal.tenant, endpoint_id=endpoint_id
        ):
            raise not_found("webhook endpoint", endpoint_id)
        session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _out(row: WebhookEndpointRow) -> EndpointOut:
    events = [WebhookEvent(event) for event in row.events]
    return EndpointOut(id=row.id, url=row.url, events=events, created_at=row.created_at)
