"""The catalogue: every metric and loss the service knows, with parameters and references."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.api.auth import authenticate
from service.errors import ApiError
from service.schemas import ErrorResponse, LossInfo, LossParamInfo, MetricInfo, MetricParamInfo
from workers.engine.losses import LOSSES, LossSpec
from workers.engine.metrics import METRICS, Metric
from workers.engine.spec import Family, Task

router = APIRouter(prefix="/v1", tags=["catalogue"], dependencies=[Depends(authenticate)])


@router.get("/metrics")
def list_metrics(task: Annotated[Task | None, Query()] = None) -> list[MetricInfo]:
    """Metrics: tasks, direction, parameters, and whether a decision threshold or a temperature
    is tuned."""
    return [_metric_info(m) for m in METRICS.values() if task is None or task in m.tasks]


@router.get("/losses", responses={422: {"model": ErrorResponse}})
def list_losses(
    task: Annotated[Task | None, Query()] = None,
    metric: Annotated[
        str | None, Query(description="only losses in this metric's default space")
    ] = None,
    family: Annotated[Family | None, Query()] = None,
) -> list[LossInfo]:
    """Losses: family, tasks, the metrics each serves, searched parameters, reference."""
    if metric is not None and metric not in METRICS:
        raise ApiError(422, "validation_error", f"unknown metric {metric!r}")
    return [
        _loss_info(spec)
        for spec in LOSSES.values()
        if (task is None or task in spec.tasks)
        and (family is None or spec.family is family)
        and (metric is None or (spec.serves_metric(metric) and _shares_task(spec, METRICS[metric])))
    ]


def _shares_task(spec: LossSpec, metric: Metric) -> bool:
    return bool(spec.tasks & metric.tasks)


def _metric_info(metric: Metric) -> MetricInfo:
    return MetricInfo(
        name=metric.name,
        tasks=sorted(metric.tasks),
        direction=metric.direction.value,
        scores=metric.needs.value,
        threshold_tuned_for=sorted(t for t in metric.tasks if metric.depends_on_threshold(t)),
        temperature_tuned_for=sorted(t for t in metric.tasks if metric.tunes_temperature(t)),
        params=[
            MetricParamInfo(
                name=p.name,
                kind="matrix" if p.matrix else "choice" if p.choices else "number",
                required=p.default is None,
                default=p.default if not isinstance(p.default, tuple) else None,
                low=p.low,
                high=p.high,
                choices=list(p.choices) if p.choices else None,
                integer=p.integer,
                description=p.description,
            )
            for p in metric.params
        ],
        description=metric.description,
    )


def _loss_info(spec: LossSpec) -> LossInfo:
    return LossInfo(
        name=spec.name,
        family=spec.family,
        tasks=sorted(spec.tasks),
        serves=sorted(spec.serves) if spec.serves is not None else None,
        batch_level=spec.batch_level,
        soft_targets=spec.soft_targets,
        soft_only=spec.soft_only,
        link=spec.link,
        params=[
            LossParamInfo(
                name=p.name,
                low=p.low,
                high=p.high,
                default=p.default,
                log=p.log,
                integer=p.integer,
                tasks=sorted(p.tasks) if p.tasks is not None else None,
                description=p.description,
            )
            for p in spec.params
        ],
        summary=spec.summary,
        reference=spec.reference,
    )
