"""Results: the best setup, the baseline and how they compare.

The setups, the comparison's numbers and the rest are the engine's own result types
(:mod:`workers.engine.results`); the service adds the job's id and the sentence that explains
the comparison.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from service.schemas.jobs import MetricOut
from workers.engine.results import (
    Comparison,
    Confirmation,
    DatasetSummary,
    Network,
    Setup,
    TrainingPlanResult,
    Verdict,
    WarmStartTrial,
)


class ComparisonOut(Comparison):
    """The comparison with the baseline, and one sentence saying what it means."""

    verdict: Verdict | None = Field(  # type: ignore[assignment]
        default=None, description="What the comparison concluded; null while the search runs."
    )
    summary: str


class BestOut(BaseModel):
    """The best loss setup; ``final`` is false while the search runs (no test metric yet)."""

    job_id: str
    final: bool
    metric: MetricOut
    best: Setup
    baseline: Setup | None
    comparison: ComparisonOut
    confirmation: Confirmation | None = None
    network: Network | None = None
    dataset: DatasetSummary | None = None
    search_space: dict[str, list[str]] | None = None
    trial_counts: dict[str, int] | None = None
    training: TrainingPlanResult | None = None
    environment: dict[str, str] | None = None
    warm_start: list[WarmStartTrial] = Field(
        default_factory=list,
        description="The earlier jobs' best setups this job was warm-started from, and the "
        "trial each ran as (final results only).",
    )
