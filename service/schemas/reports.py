"""The job report (``GET /v1/jobs/{id}/report``): the answer, how sure we are, and everything
needed to check it. Its HTML page (``report.html``) renders exactly this."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from service.schemas.results import ComparisonOut
from workers.engine.param_values import ParamJson
from workers.engine.results import (
    Confirmation,
    DatasetSummary,
    Network,
    Setup,
    TrainingPlanResult,
)
from workers.engine.spec import JobSpec


class ReportJob(BaseModel):
    id: str
    status: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    elapsed_s: float | None
    error: str | None


class ReportMetric(BaseModel):
    name: str
    params: dict[str, ParamJson]
    direction: Literal["maximize", "minimize"]
    description: str


class FamilyBest(BaseModel):
    """The best completed trial of one loss family."""

    trial_number: int
    loss: str | None
    loss_params: dict[str, float]
    learning_rate: float | None
    validation: float | None


class HistoryPoint(BaseModel):
    """One trial, in order, with the best validation value reached so far."""

    number: int
    state: str
    family: str
    loss: str | None
    loss_params: dict[str, float]
    value: float | None
    best_so_far: float | None


class ReportTrials(BaseModel):
    by_state: dict[str, int]
    by_family: dict[str, dict[str, int]] = Field(description="Family → trials by state.")
    best_per_family: dict[str, FamilyBest]
    history: list[HistoryPoint]


class ReportSearch(BaseModel):
    """What was searched, and how."""

    spec: JobSpec = Field(description="The job as it ran (planned).")
    space: dict[str, list[str]] | None
    training: TrainingPlanResult | None
    network: Network | None
    sampler: str


class ReportOut(BaseModel):
    """Everything about a job's search and its result (``final`` once the job succeeded)."""

    job: ReportJob
    final: bool
    summary: str
    metric: ReportMetric
    winner: Setup | None
    baseline: Setup | None
    comparison: ComparisonOut | None
    confirmation: Confirmation | None
    trials: ReportTrials
    search: ReportSearch
    dataset: DatasetSummary | None
    environment: dict[str, str] | None
