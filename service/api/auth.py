"""Who is asking, as dependencies of the routers: every ``/v1`` router authenticates, and the
routes of one job (``/v1/jobs/{job_id}/...``) check that the job is the caller's.

A job of another tenant is answered exactly like a job that does not exist (404, same body):
the answer must not tell a tenant which ids another tenant has.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.deps import DatabaseDep
from service.api.job_owners import JobOwners
from service.auth.authenticator import Authenticator, Unauthorized
from service.auth.principal import Principal
from service.errors import ApiError, not_found

# Parses nothing itself (the header is read below, so a malformed one gets our own message); it
# puts the scheme in the OpenAPI document, which gives /docs its "Authorize" button.
_bearer = HTTPBearer(
    auto_error=False,
    description="An API key made by 'loss-search keys create'; not needed while auth is open "
    "(no key exists and the API listens on 127.0.0.1).",
)
REALM = 'Bearer realm="loss-search"'


def unauthorized(reason: str, message: str) -> ApiError:
    """A 401 in the one error shape, with the ``WWW-Authenticate`` challenge RFC 6750 asks for."""
    challenge = REALM if reason == "missing" else f'{REALM}, error="invalid_token"'
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


async def authenticate(
    request: Request,
    db: DatabaseDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal of the request's ``Authorization: Bearer`` key (or anonymous, while auth
    is open); 401 otherwise."""
    token: str | None = None
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise unauthorized("invalid", "the Authorization header must be 'Bearer <key>'")
        token = value.strip()
    authenticator: Authenticator = request.app.state.authenticator
    try:
        return await authenticator.principal(token, db.reads)
    except Unauthorized as exc:
        raise unauthorized(exc.reason, exc.message) from None


PrincipalDep = Annotated[Principal, Depends(authenticate)]


async def require_admin(principal: PrincipalDep) -> Principal:
    """The principal, if it is an admin; 403 otherwise."""
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "only an admin key may do this")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


async def owned_job(job_id: str, request: Request, principal: PrincipalDep, db: DatabaseDep) -> str:
    """``job_id``, if the caller may see that job; the unknown-job 404 otherwise.

    Admins (and everyone while auth is open) see every job: the route's own lookup answers for
    ids that do not exist.
    """
    if principal.is_admin:
        return job_id
    owners: JobOwners = request.app.state.job_owners
    tenant = await owners.tenant_of(job_id, db.reads)
    if tenant is None or not principal.may_see(tenant):
        raise not_found("job", job_id)
    return job_id
