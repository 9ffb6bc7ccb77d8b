"""Checking a job request before anything is stored or queued: the engine's plan, as a 422."""

from __future__ import annotations

from pathlib import Path

from service.errors import invalid
from service.schemas import JobCreate
from workers.engine.errors import EngineError
from workers.engine.planning import DataChoice, SearchChoices, plan_search
from workers.engine.spec import Family, MetricRef, SearchSpec


def build_spec(request: JobCreate, data_roots: list[Path]) -> SearchSpec:
    """The engine's spec for ``request``, or an :class:`ApiError` (422) saying what to fix."""
    metric = (
        MetricRef(request.metric)
        if isinstance(request.metric, str)
        else MetricRef(request.metric.name, dict(request.metric.params))
    )
    target = (request.target,) if isinstance(request.target, str) else tuple(request.target)
    data = DataChoice(request.dataset, request.split_column, request.test_dataset)
    choices = SearchChoices(
        n_trials=request.budget.n_trials,
        families=tuple(request.families or Family),
        losses=tuple(request.losses or ()),
        overrides=request.params or {},
        seed=request.seed,
        timeout_s=request.budget.timeout_s,
        population_size=request.parallelism.population_size,
        confirmation_top_k=request.confirmation.top_k,
        confirmation_seeds=request.confirmation.seeds,
    )
    try:
        return plan_search(
            data, target, metric, task=request.task, choices=choices, data_roots=data_roots
        )
    except EngineError as exc:
        raise invalid(str(exc), exc.field or "dataset") from None
