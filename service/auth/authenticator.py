"""A presented API key → the principal it stands for, cheaply enough to guard every poll.

Checking a key's argon2 hash costs 50-200 ms of CPU, far more than the poll it guards, so each
API process remembers briefly what it found:

- the principal a key stands for (or that it was refused), for ``ttl_s`` seconds; after that
  the key's row is read again, so a revoked key stops working within ``ttl_s``;
- which hash each key was already verified against, so reading the row again costs one
  primary-key query, not another argon2 check;
- whether any key exists (auth ``auto``), also for ``ttl_s``.

Entries are keyed by the SHA-256 of the presented key, never the key itself. Concurrent requests
with the same key share one check, and argon2 runs on a small thread pool of its own, never on
the event loop that serves the polls.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Literal

import anyio
import anyio.to_thread
from cachetools import LRUCache, TTLCache
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth import keys
from service.auth.principal import Principal, anonymous
from service.db.api_keys import any_active_key, find_key

AuthMode = Literal["auto", "required", "off"]
Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


class Unauthorized(Exception):
    """No usable key: ``missing`` (none was sent and one is needed) or ``invalid``."""

    def __init__(self, reason: Literal["missing", "invalid"], message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


MISSING = (
    "this API needs a key: send 'Authorization: Bearer <key>' "
    "(an operator makes one with 'loss-search keys create --tenant NAME')"
)


class Authenticator:
    """Turns the ``Authorization`` header's key into a :class:`Principal` (see the module)."""

    def __init__(
        self, *, mode: AuthMode, default_tenant: str, ttl_s: float, loopback: bool
    ) -> None:
        self.mode = mode
        self.default_tenant = default_tenant
        self.ttl_s = ttl_s
        # On a non-loopback address ``auto`` never falls open, even when the last key is revoked.
        self.loopback = loopback
        self._principals: TTLCache[str, Principal | str] | None = (
            TTLCache(maxsize=10_000, ttl=ttl_s) if ttl_s > 0 else None
        )
        self._verified: LRUCache[str, str] = LRUCache(maxsize=10_000)
        self._keys_exist: tuple[float, bool] | None = None
        self._lock = threading.Lock()
        self._loading: dict[str, asyncio.Task[Principal | str]] = {}
        self._hashing = anyio.CapacityLimiter(2)

    async def principal(self, token: str | None, connect: Connect) -> Principal:
        """Who ``token`` stands for; with no token, the anonymous principal while auth is open.

        Raises :class:`Unauthorized` otherwise.
        """
        if token is None:
            if await self.is_open(connect):
                return anonymous(self.default_tenant)
            raise Unauthorized("missing", MISSING)
        found = await self._lookup(hashlib.sha256(token.encode()).hexdigest(), token, connect)
        if isinstance(found, str):
            raise Unauthorized("invalid", found)
        return found

    async def is_open(self, connect: Connect) -> bool:
        """Whether a request without a key is served (as the default tenant)."""
        if self.mode != "auto":
            return self.mode == "off"
        if not self.loopback:
            return False
        now = time.monotonic()
        cached = self._keys_exist
        if cached is None or now - cached[0] >= self.ttl_s:
            async with connect() as connection:
                cached = self._keys_exist = (now, await any_active_key(connection))
        return not cached[1]

    async def _lookup(self, digest: str, token: str, connect: Connect) -> Principal | str:
        with self._lock:
            cached = self._principals.get(digest) if self._principals is not None else None
            if cached is not None:
                return cached
            task = self._loading.get(digest)
            if task is None:
                task = asyncio.ensure_future(
                    self._load(digest, self._check(digest, token, connect))
                )
                self._loading[digest] = task
        # Shielded: a client that goes away does not cancel the check others wait on.
        return await asyncio.shield(task)

    async def _load(self, digest: str, check: Awaitable[Principal | str]) -> Principal | str:
        try:
            found = await check
        finally:
            with self._lock:
                self._loading.pop(digest, None)
        with self._lock:
            if self._principals is not None:
                self._principals[digest] = found
        return found

    async def _check(self, digest: str, token: str, connect: Connect) -> Principal | str:
        """The principal, or why the key is refused."""
        presented = keys.parse(token)
        if presented is None:
            return (
                "the API key is not one of this service's keys (they look like lsk_<id>_<secret>)"
            )
        async with connect() as connection:
            stored = await find_key(connection, presented.key_id)
        if stored is None or not await self._verify(digest, stored.secret_hash, presented.secret):
            return "the API key is not valid"
        if stored.revoked:
            return f"the API key {keys.PREFIX}_{stored.key_id} has been revoked"
        return Principal(tenant=stored.tenant, role=stored.role, key_id=stored.key_id)

    async def _verify(self, digest: str, secret_hash: str, secret: str) -> bool:
        if self._verified.get(digest) == secret_hash:
            return True
        ok = await anyio.to_thread.run_sync(keys.verify, secret_hash, secret, limiter=self._hashing)
        if ok:
            with self._lock:
                self._verified[digest] = secret_hash
        return ok
