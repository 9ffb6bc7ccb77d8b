"""Query parameters shared by the listing routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (at most 500).")]
# Bounded: SQL takes 64-bit offsets at most (SQLite overflows past them); no listing is that long.
Offset = Annotated[int, Query(ge=0, le=10**9, description="Items to skip (at most 10⁹).")]
