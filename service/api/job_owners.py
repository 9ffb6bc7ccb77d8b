"""Which tenant each job belongs to, remembered per process: a job's tenant never changes, so a
member's poll checks ownership without a query once the job has been seen."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db import reads

Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


class JobOwners:
    """Job id → tenant, read once and then kept (at most ``max_entries`` jobs)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._tenants: LRUCache[str, str] = LRUCache(maxsize=max_entries)
        self._lock = threading.Lock()

    async def tenant_of(self, job_id: str, connect: Connect) -> str | None:
        """The job's tenant; None if there is no such job (not remembered: it may come)."""
        with self._lock:
            tenant = self._tenants.get(job_id)
        if tenant is not None:
            return tenant
        async with connect() as connection:
            tenant = await reads.job_tenant(connection, job_id)
        if tenant is not None:
            with self._lock:
                self._tenants[job_id] = tenant
        return tenant

    def remember(self, job_id: str, tenant: str) -> None:
        """Record a job this process just created (its first poll then needs no query)."""
        with self._lock:
            self._tenants[job_id] = tenant
