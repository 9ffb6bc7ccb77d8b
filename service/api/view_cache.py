"""A short-lived cache of rendered job views and trial pages: many pollers of one job cost one
read per interval.

Platform pipelines poll their jobs every second or so, often many clients on the same job. Every
poll would build the same JSON from the same rows. Keeping the rendered view for ``ttl_s`` (half a
second by default) bounds the database's polling load by the number of jobs being watched, not by
the number of pollers, and concurrent misses on one job share a single read, so an expiring entry
never sends a stampede to the database.

The price is freshness: a view may be up to ``ttl_s`` old. A change made through this process (a
cancel) drops the job's entry at once; with several API processes, another process may answer
with the old view until its entry expires.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

from cachetools import TTLCache

Load = Callable[[], Awaitable[bytes | None]]
"""Reads and renders one view; None when there is nothing to show (not cached)."""


class ViewCache:
    """Rendered views by key, each kept ``ttl_s`` seconds; ``ttl_s == 0`` turns caching off."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self._entries: TTLCache[str, bytes] | None = (
            TTLCache(maxsize=max_entries, ttl=ttl_s) if ttl_s > 0 else None
        )
        # The event loop reads and fills entries; sync routes drop them from worker threads.
        self._lock = threading.Lock()
        self._loading: dict[str, asyncio.Task[bytes | None]] = {}

    async def get(self, key: str, load: Load) -> bytes | None:
        """The cached view for ``key``, or the one ``load`` renders (one read for all callers)."""
        if self._entries is None:
            return await load()
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                return cached
            task = self._loading.get(key)
            if task is None:
                task = asyncio.ensure_future(self._load(key, load))
                self._loading[key] = task
        # Shielded: a caller that goes away (client disconnect) does not cancel the others' read.
        return await asyncio.shield(task)

    def drop(self, key: str) -> None:
        """Forget ``key``'s view (it just changed through this process).

        A read already under way may have seen the old rows: it is forgotten too, so its view
        is not stored, and the next caller reads afresh.
        """
        if self._entries is not None:
            with self._lock:
                self._entries.pop(key, None)
                self._loading.pop(key, None)

    async def _load(self, key: str, load: Load) -> bytes | None:
        this = asyncio.current_task()
        try:
            view = await load()
        except BaseException:
            with self._lock:
                if self._loading.get(key) is this:
                    del self._loading[key]
            raise
        with self._lock:
            current = self._loading.get(key) is this
            if current:
                del self._loading[key]
                if view is not None and self._entries is not None:
                    self._entries[key] = view
        return view
