"""Checking a webhook subscription when it is made, so a bad URL is a 422 at POST time."""

from __future__ import annotations

from typing import Any

from service.errors import invalid
from service.schemas.webhooks import Subscription
from service.settings import Settings
from service.webhooks.targets import TargetRefused, check_target


def checked(subscription: Subscription, settings: Settings, *loc: str) -> dict[str, Any]:
    """The subscription as stored, or a 422 (at ``loc``) if its URL may not be called."""
    url = str(subscription.url)
    try:
        check_target(url, allow_private=settings.webhook_allow_private)
    except TargetRefused as exc:
        raise invalid(str(exc), *loc, "url") from None
    return {"url": url, "events": [event.value for event in subscription.events]}


def checked_notify(notify: Subscription | None, settings: Settings) -> dict[str, Any] | None:
    """A job's ``notify`` as stored, or a 422 naming ``notify.url``."""
    return None if notify is None else checked(notify, settings, "notify")
