"""Per-tenant limits on submissions: how many jobs a tenant may have in flight and waiting, and
how many trials one of its jobs may ask for.

Each limit is the tenant's own (set by an admin) or else the service's default (settings; None:
no limit). Over a limit on jobs in flight the answer is 429 with ``Retry-After``: the same
request succeeds once one of the tenant's jobs ends. Over the trial limit it is 422: that
request can never succeed as it is, and a client that retries 429s would retry it forever.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from service.db import tenants
from service.db.models import TenantRow
from service.db.tenants import Usage
from service.errors import ApiError
from service.schemas import ErrorDetail
from service.settings import Settings

# Jobs take minutes: asking again sooner than this only costs both sides requests.
RETRY_AFTER_S = 30


@dataclass(frozen=True)
class Limits:
    """Limits in force for one tenant (None: none)."""

    max_concurrent_jobs: int | None
    max_queued_jobs: int | None
    max_trials_per_job: int | None


def defaults(settings: Settings) -> Limits:
    """The service's default limits."""
    return Limits(
        settings.max_concurrent_jobs, settings.max_queued_jobs, settings.max_trials_per_job
    )


@dataclass(frozen=True)
class Standing:
    """A tenant's limits (its own, the defaults, those in force) and its jobs in flight."""

    tenant: str
    own: Limits
    defaults: Limits
    in_force: Limits
    usage: Usage


def own(tenant: TenantRow | None) -> Limits:
    """The limits an admin set for the tenant (None: the default)."""
    if tenant is None:
        return Limits(None, None, None)
    return Limits(tenant.max_concurrent_jobs, tenant.max_queued_jobs, tenant.max_trials_per_job)


def standing(*, session: Session, tenant: str, settings: Settings) -> Standing:
    """Where ``tenant`` stands against its limits now."""
    row = tenants.get_tenant(session=session, name=tenant)
    return Standing(
        tenant=tenant,
        own=own(row),
        defaults=defaults(settings),
        in_force=in_force(row, settings),
        usage=tenants.usage(session=session, tenant=tenant),
    )


def in_force(tenant: TenantRow | None, settings: Settings) -> Limits:
    """The tenant's own limits where it has them, the service's defaults elsewhere."""
    mine, fallback = own(tenant), defaults(settings)
    return Limits(
        _first(mine.max_concurrent_jobs, fallback.max_concurrent_jobs),
        _first(mine.max_queued_jobs, fallback.max_queued_jobs),
        _first(mine.max_trials_per_job, fallback.max_trials_per_job),
    )


def check_trials(limits: Limits, tenant: str, n_trials: int) -> None:
    """A 422 if a job of ``tenant`` may not have ``n_trials`` trials."""
    most = limits.max_trials_per_job
    if most is not None and n_trials > most:
        message = (
            f"budget.n_trials is {n_trials}, over the limit max_trials_per_job = {most} of "
            f"tenant '{tenant}'; ask for at most {most} trials (an admin can raise the limit)"
        )
        loc: list[str | int] = ["body", "budget", "n_trials"]
        raise ApiError(422, "limit_exceeded", message, [ErrorDetail(loc=loc, message=message)])


def limits_jobs(limits: Limits) -> bool:
    """Whether any limit on the number of jobs is in force (else they need not be counted)."""
    return limits.max_concurrent_jobs is not None or limits.max_queued_jobs is not None


def check_jobs(limits: Limits, tenant: str, usage: Usage) -> None:
    """A 429 if ``tenant``, with ``usage``, may not have one more job queued."""
    if limits.max_concurrent_jobs is not None and usage.active >= limits.max_concurrent_jobs:
        raise _busy(
            f"tenant '{tenant}' has {usage.active} jobs queued or running, its limit "
            f"max_concurrent_jobs = {limits.max_concurrent_jobs}"
        )
    if limits.max_queued_jobs is not None and usage.queued >= limits.max_queued_jobs:
        raise _busy(
            f"tenant '{tenant}' has {usage.queued} jobs waiting for a worker, its limit "
            f"max_queued_jobs = {limits.max_queued_jobs}"
        )


def _busy(reason: str) -> ApiError:
    message = f"{reason}; submit again when one of its jobs ends (or cancel one)"
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    return ApiError(429, "quota_exceeded", message, headers=headers)


def _first(own: int | None, default: int | None) -> int | None:
    return own if own is not None else default
