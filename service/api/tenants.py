"""A tenant's limits: anyone may read their own tenant's (admins: any tenant's); only an admin
sets them.

A member asking about another tenant gets 404, like a tenant that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy.orm import Session

from service import quotas
from service.api.auth import AdminDep, PrincipalDep, authenticate
from service.api.deps import DatabaseDep, SettingsDep
from service.auth.principal import TENANT_PATTERN
from service.db import tenants as repo
from service.errors import ApiError
from service.schemas import ErrorResponse
from service.schemas.tenants import LimitsIn, TenantLimitsOut
from service.settings import Settings

router = APIRouter(
    prefix="/v1/tenants/{tenant}", tags=["tenants"], dependencies=[Depends(authenticate)]
)
TenantPath = Annotated[str, Path(pattern=TENANT_PATTERN, description="The tenant's name.")]
_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


@router.get("/limits", responses=_ERRORS)
def get_limits(
    tenant: TenantPath, principal: PrincipalDep, settings: SettingsDep, db: DatabaseDep
) -> TenantLimitsOut:
    """The tenant's limits (its own, the defaults, those in force) and its jobs in flight."""
    if not principal.may_see(tenant):
        raise ApiError(404, "not_found", f"no tenant named {tenant!r}")
    with db.session() as session:
        return _view(session, tenant, settings)


@router.put("/limits", responses={**_ERRORS, 403: {"model": ErrorResponse}})
def set_limits(
    tenant: TenantPath,
    limits: LimitsIn,
    _admin: AdminDep,
    settings: SettingsDep,
    db: DatabaseDep,
) -> TenantLimitsOut:
    """Set the tenant's own limits (admin keys only); they apply to its next submission."""
    with db.session() as session:
        repo.set_limits(session=session, name=tenant, **limits.model_dump())
        return _view(session, tenant, settings)


def _view(session: Session, tenant: str, settings: Settings) -> TenantLimitsOut:
    now = quotas.standing(session=session, tenant=tenant, settings=settings)
    return TenantLimitsOut.model_validate(now, from_attributes=True)
