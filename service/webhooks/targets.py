"""Which webhook URLs the service will call.

Only http(s), and only public addresses unless ``webhook_allow_private`` is set: a webhook is a
request the service makes on a client's behalf, and without this check a job could make it call
into the service's own network (metadata endpoints, databases' HTTP ports). The check runs when
a URL is stored and again before every attempt, on the addresses the name resolves to then (a
name may be re-pointed after it was checked).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

SCHEMES = ("http", "https")


class TargetRefused(Exception):
    """The URL may not be called; the message says why."""


def check_target(url: str, *, allow_private: bool) -> None:
    """Raise :class:`TargetRefused` unless ``url`` is http(s) on an address the service may call."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise TargetRefused(f"webhook URLs must be http or https, not {parts.scheme or 'none'}")
    host = parts.hostname
    if not host:
        raise TargetRefused("the webhook URL has no host")
    if allow_private:
        return
    for address in _addresses(host, parts.port):
        if not address.is_global:
            raise TargetRefused(
                f"{host} is a {_kind(address)} address ({address}); webhooks go to public "
                "addresses only (the service setting webhook_allow_private lifts this)"
            )


def _addresses(host: str, port: int | None) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise TargetRefused(f"{host} does not resolve ({exc.strerror or exc})") from None
    except UnicodeError:  # a label longer than DNS allows (63 characters) or empty
        raise TargetRefused(f"{host} is not a valid host name") from None
    addresses = {ipaddress.ip_address(info[4][0]) for info in infos}
    return sorted(addresses, key=str)


def _kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    return "non-public"
