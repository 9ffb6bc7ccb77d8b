"""Auth may be off only where nobody else can reach the API, unless an operator says so.

The embedded default (127.0.0.1, no keys) stays open so the README's walk-through needs no key.
On any other address an API with no key to check would let anyone read and cancel every job, so
it refuses to start, unless ``LOSS_SEARCH_AUTH=off`` says that is meant.
"""

from __future__ import annotations

import ipaddress

from service.settings import Settings


class ExposedWithoutAuth(RuntimeError):
    """The API would listen on a non-loopback address with nothing to check keys against."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def auth_is_open(settings: Settings, active_keys: int) -> bool:
    """Whether requests without a key are served, with ``active_keys`` keys in the database."""
    if settings.auth != "auto":
        return settings.auth == "off"
    return is_loopback(settings.api_host) and active_keys == 0


def check_exposure(settings: Settings, active_keys: int) -> None:
    """Refuse to serve a non-loopback address with auth off unless it is explicitly off."""
    if is_loopback(settings.api_host) or settings.auth != "auto" or active_keys > 0:
        return
    raise ExposedWithoutAuth(
        f"refusing to listen on {settings.api_host} with no API key to check: anyone who can "
        "reach it could read and cancel every job. Create a key first "
        "(loss-search keys create --tenant NAME --role admin), or set LOSS_SEARCH_AUTH=required "
        "(every request needs a key), or LOSS_SEARCH_AUTH=off to serve it open on purpose."
    )


def describe(settings: Settings, active_keys: int) -> str:
    """One line for the start banner: whether a key is needed, and how to change that."""
    if auth_is_open(settings, active_keys):
        why = "LOSS_SEARCH_AUTH=off" if settings.auth == "off" else "no API key exists yet"
        return (
            f"auth: open ({why}; requests need no key and jobs belong to tenant "
            f"'{settings.default_tenant}'). 'loss-search keys create --tenant NAME' turns keys on."
        )
    if active_keys == 0:
        return (
            "auth: required, and no API key exists yet: every request but /healthz and /readyz "
            "is refused until 'loss-search keys create --tenant NAME --role admin' makes one."
        )
    return (
        f"auth: required ({active_keys} active API key(s)); send 'Authorization: Bearer <key>'. "
        "'loss-search keys list' shows them."
    )
