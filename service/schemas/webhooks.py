"""Webhooks: what a job or a tenant asks to be told, and the log of what was sent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl


class WebhookEvent(StrEnum):
    """The events a webhook can be sent for."""

    STARTED = "job.started"
    PROGRESS = "job.progress"
    SUCCEEDED = "job.succeeded"
    FAILED = "job.failed"
    CANCELLED = "job.cancelled"


DEFAULT_EVENTS = (
    WebhookEvent.STARTED,
    WebhookEvent.SUCCEEDED,
    WebhookEvent.FAILED,
    WebhookEvent.CANCELLED,
)


def _unique(events: list[WebhookEvent]) -> list[WebhookEvent]:
    if len(set(events)) != len(events):
        raise ValueError("events must not repeat")
    return events


Events = Annotated[
    list[WebhookEvent],
    Field(
        min_length=1,
        max_length=len(WebhookEvent),
        description="Which events to send (default: every one but job.progress).",
    ),
    AfterValidator(_unique),
]
WebhookUrl = Annotated[
    HttpUrl,
    Field(
        description="An http(s) URL on a public address (private and loopback addresses are "
        "refused unless the service allows them); at most 2083 characters.",
    ),
]


class Subscription(BaseModel):
    """A URL and the events to send it, signed with the tenant's webhook secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: WebhookUrl
    events: Events = Field(default_factory=lambda: list(DEFAULT_EVENTS))


class Notify(Subscription):
    """Where to send this job's webhooks (besides the tenant's registered endpoints)."""


class EndpointIn(Subscription):
    """An endpoint that receives the webhooks of every job of the tenant."""


class EndpointOut(BaseModel):
    id: str
    url: str
    events: list[WebhookEvent]
    created_at: datetime


class SecretOut(BaseModel):
    """The tenant's webhook signing secret (Standard Webhooks: base64 after ``whsec_``)."""

    secret: str = Field(
        description="Verify each delivery's webhook-signature with it: HMAC-SHA256, keyed with "
        "the base64-decoded part after whsec_, over '{webhook-id}.{webhook-timestamp}.{body}'."
    )


class Attempt(BaseModel):
    at: datetime
    status_code: int | None = Field(description="The receiver's answer; null if none came.")
    error: str | None
    duration_ms: float


class DeliveryOut(BaseModel):
    """One webhook message to one URL: its event, and every attempt to deliver it."""

    id: str = Field(description="The message's webhook-id, the same on every attempt.")
    event: WebhookEvent
    url: str
    endpoint_id: str | None = Field(description="The tenant endpoint; null: the job's notify.")
    status: Literal["pending", "delivered", "failed"]
    attempts: list[Attempt]
    created_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    payload: dict[str, Any]
