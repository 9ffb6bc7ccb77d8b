"""Results: the best setup, the baseline and how they compare."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from service.schemas.jobs import MetricOut


class SetupOut(BaseModel):
    """A loss setup and what it reached.

    While the search runs, ``validation`` is the trial's own value. In the final result each
    setup has been retrained on the confirmation seeds: ``validation`` and ``test`` are means
    over those seeds, with the per-seed values beside them and a 95% bootstrap interval on test.
    """

    trial_number: int
    arm: str | None
    family: str
    loss: str
    loss_params: dict[str, float]
    training: dict[str, Any]
    threshold: dict[str, Any] | None = Field(
        description="Decision threshold(s) on the logit and as probabilities (median over seeds)."
    )
    trial_validation: float | None = Field(default=None, description="The search trial's value.")
    validation: float | None
    validation_std: float | None = None
    validation_seeds: list[float] = Field(default_factory=list)
    test: float | None = None
    test_interval: list[float] | None = Field(
        default=None, description="95% bootstrap interval of the test metric (resampled test set)."
    )
    test_seeds: list[float] = Field(default_factory=list)
    failed_runs: int = 0
    output_link: str | None = Field(
        default=None, description="identity, or log when the model outputs log-predictions."
    )
    code: str | None = Field(
        default=None, description="Self-contained PyTorch code that reproduces the loss."
    )


class BestOut(BaseModel):
    """The best loss setup; ``final`` is false while the search runs (no test metric yet)."""

    job_id: str
    final: bool
    metric: MetricOut
    best: SetupOut
    baseline: SetupOut | None
    comparison: dict[str, Any] = Field(
        description="test_lift (positive is better), its 95% interval, probability_better, "
        "significant, and a one-sentence summary."
    )
    confirmation: dict[str, Any] | None = None
    network: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None
    search_space: dict[str, list[str]] | None = None
    trial_counts: dict[str, int] | None = None
    training: dict[str, Any] | None = None
    environment: dict[str, str] | None = None
