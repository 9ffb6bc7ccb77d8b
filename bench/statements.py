"""Counting what an Optuna RDB storage asks of its database: statements, writes and commits.

Listens to the SQLAlchemy engine behind ``RDBStorage`` (``storage.engine``): every statement
sent to the database (``before_cursor_execute``, so ``executemany`` counts once) and every
commit. Writes are the INSERT, UPDATE and DELETE statements. Statements that bypass SQLAlchemy
(the ``PRAGMA`` lines our SQLite connections run when they open) are not seen.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from optuna.storages import RDBStorage
from sqlalchemy import event

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE")


@dataclass
class StatementCounts:
    """Statements, writes and commits seen so far (the heartbeat thread's included)."""

    statements: int = 0
    writes: int = 0
    commits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"statements": self.statements, "writes": self.writes, "commits": self.commits}

    def _statement(self, sql: str) -> None:
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        with self._lock:
            self.statements += 1
            if verb in WRITE_VERBS:
                self.writes += 1

    def _commit(self) -> None:
        with self._lock:
            self.commits += 1


def count_statements(storage: RDBStorage) -> StatementCounts:
    """Start counting the statements and commits ``storage`` issues; returns the live counts."""
    counts = StatementCounts()

    def before_cursor_execute(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        counts._statement(statement)

    def commit(conn: Any) -> None:
        counts._commit()

    event.listen(storage.engine, "before_cursor_execute", before_cursor_execute)
    event.listen(storage.engine, "commit", commit)
    return counts


def difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """Counts between two snapshots."""
    return {key: after[key] - before.get(key, 0) for key in after}
