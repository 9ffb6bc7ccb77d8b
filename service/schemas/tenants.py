"""A tenant's limits: its own, the service's defaults, those in force, and its jobs in flight."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from workers.engine.spec_fields import MAX_TRIALS

_OWN = "; null: the service's default"


class LimitsIn(BaseModel):
    """A tenant's own limits (PUT replaces them all: a field left out or null uses the service's
    default)."""

    model_config = ConfigDict(extra="forbid")

    max_concurrent_jobs: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Most jobs queued or running at once" + _OWN
    )
    max_queued_jobs: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Most jobs waiting for a worker" + _OWN
    )
    max_trials_per_job: int | None = Field(
        default=None, ge=1, le=MAX_TRIALS, description="Most trials one job may ask for" + _OWN
    )


class Limits(BaseModel):
    """Limits on a tenant's submissions (null: no limit, or: the default, for ``own``)."""

    max_concurrent_jobs: int | None
    max_queued_jobs: int | None
    max_trials_per_job: int | None


class Usage(BaseModel):
    """The tenant's jobs that have not ended."""

    queued: int
    running: int


class TenantLimitsOut(BaseModel):
    """A tenant's limits and what counts against them now."""

    tenant: str
    own: Limits = Field(description="Set for this tenant by an admin (null: the default).")
    defaults: Limits = Field(description="The service's defaults (null: no limit).")
    in_force: Limits = Field(description="What submissions are checked against.")
    usage: Usage
