"""The metric and loss catalogue."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from workers.engine.spec import Family, Task


class MetricParamInfo(BaseModel):
    name: str
    kind: Literal["number", "choice", "matrix"] = Field(
        description="A number within [low, high], one of `choices`, or a square matrix of "
        "numbers with one row and one column per class (a list of rows)."
    )
    required: bool = Field(description="Whether a job must give it (it has no default).")
    default: float | str | None
    low: float | None
    high: float | None
    choices: list[str] | None
    integer: bool
    description: str


class MetricInfo(BaseModel):
    """A metric in the catalogue."""

    name: str
    tasks: list[Task]
    direction: Literal["maximize", "minimize"]
    scores: Literal["labels", "scores", "probabilities", "values"]
    threshold_tuned_for: list[Task] = Field(
        description="Tasks for which the decision is tuned on validation: the threshold "
        "(binary; per label for multilabel) or per-class offsets (multiclass: on the logits; "
        "on the expected costs for expected_cost)."
    )
    temperature_tuned_for: list[Task] = Field(
        default_factory=list,
        description="Tasks for which the probabilities are calibrated on validation: a "
        "temperature T fitted per trial divides the logits before the sigmoid or softmax.",
    )
    params: list[MetricParamInfo]
    description: str


class LossParamInfo(BaseModel):
    name: str
    low: float
    high: float
    default: float
    log: bool
    integer: bool
    tasks: list[Task] | None = Field(description="Tasks the parameter applies to; null: all.")
    description: str


class LossInfo(BaseModel):
    """A loss in the catalogue."""

    name: str
    family: Family
    tasks: list[Task]
    serves: list[str] | None = Field(
        description="Metrics the loss targets (its default spaces); null: every metric of its "
        "tasks."
    )
    batch_level: bool = Field(description="A statistic of the batch, so batch size is searched.")
    soft_targets: bool = Field(
        description="Also trains on multiclass soft targets (a label distribution per row); "
        "soft-target jobs search only such losses."
    )
    soft_only: bool = Field(
        description="Searched on soft targets only (on hard labels it equals another loss)."
    )
    link: str
    params: list[LossParamInfo]
    summary: str
    reference: str
