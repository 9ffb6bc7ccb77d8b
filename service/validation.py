"""Checking a job before anything is stored or queued: the engine's plan, as a 422."""

from __future__ import annotations

from pathlib import Path

from service.errors import invalid
from workers.engine.errors import EngineError
from workers.engine.planning import plan_search
from workers.engine.spec import JobSpec


def planned(spec: JobSpec, data_roots: list[Path], default_shards: int) -> JobSpec:
    """``spec`` planned by the engine, with the service's shard count filled in, or an
    :class:`ApiError` (422) saying what to fix."""
    try:
        spec = plan_search(spec, data_roots=data_roots)
    except EngineError as exc:
        raise invalid(str(exc), exc.field or "dataset") from None
    if spec.parallelism.shards is not None:
        return spec
    parallelism = spec.parallelism.model_copy(update={"shards": default_shards})
    return spec.model_copy(update={"parallelism": parallelism})
