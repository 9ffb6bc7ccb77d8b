"""The Standard Webhooks v1 headers of one delivery attempt (the ``standardwebhooks`` package
computes the signature: HMAC-SHA256 over ``{id}.{timestamp}.{body}``)."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A new signing secret: 32 random bytes, base64, after ``whsec_``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(secret: str, message_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """The headers of one attempt to deliver ``body``; ``at`` is the attempt's time (receivers
    refuse old timestamps, so each retry is signed anew)."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }
