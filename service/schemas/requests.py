"""Job requests: what a client may ask for."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from workers.engine.spec import Family, Task

MAX_TRIALS = 2000
MAX_TIMEOUT_S = 7 * 24 * 3600


class MetricIn(BaseModel):
    """A metric with parameters.

    For example ``{"name": "recall_at_precision", "params": {"min_precision": 0.9}}``.
    """

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    params: dict[str, float | str] = Field(default_factory=dict)


class BudgetIn(BaseModel):
    """How much the search may spend. It stops at whichever limit comes first."""

    model_config = ConfigDict(extra="forbid")
    n_trials: int = Field(
        default=30, ge=1, le=MAX_TRIALS, description="Trials to run, baseline included."
    )
    timeout_s: float | None = Field(
        default=None, ge=10, le=MAX_TIMEOUT_S, description="No new trial starts after this long."
    )


class ParallelismIn(BaseModel):
    """How the search uses workers: trials trained at once, and tasks the job is split into."""

    model_config = ConfigDict(extra="forbid")
    population_size: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="Trials trained together as one population; chosen from the model, the data "
        "and the free memory when omitted.",
    )
    shards: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Celery tasks working on the job's study at once (more workers, faster).",
    )


class ConfirmationIn(BaseModel):
    """How the winner is confirmed: finalists retrained on fresh seeds before any test figure."""

    model_config = ConfigDict(extra="forbid")
    top_k: int = Field(
        default=3, ge=1, le=10, description="Best setups retrained, with the baseline."
    )
    seeds: int = Field(
        default=5, ge=1, le=20, description="Fresh seeds each finalist is trained on."
    )


class JobCreate(BaseModel):
    """A loss-search job."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"dataset": "builtin:breast_cancer", "metric": "f1", "budget": {"n_trials": 20}}
            ]
        },
    )
    dataset: str = Field(
        min_length=1,
        max_length=4096,
        description="builtin:<name>, file:///path, or a path relative to a data root "
        "(CSV or Parquet).",
    )
    target: str | list[str] = Field(
        default="target",
        description="The target column, or several 0/1 columns for a multilabel task; "
        "shell-style patterns such as 'label_*' are expanded.",
    )
    task: Task | None = Field(default=None, description="Inferred from the target when omitted.")
    split_column: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="A column saying which rows are train, validation or test (case-insensitive; "
        "without validation rows, validation is carved from train). By default the split is "
        "random: 60/20/20, seeded, stratified where the task allows.",
    )
    test_dataset: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="A separate file of test rows with the same columns, referenced like "
        "`dataset`; the dataset itself is then split into train and validation only.",
    )
    metric: str | MetricIn = Field(description="The metric the model is judged by.")
    budget: BudgetIn = Field(default_factory=BudgetIn)
    families: list[Family] | None = Field(
        default=None, min_length=1, description="Loss families to search; all by default."
    )
    losses: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Search only these losses (names from GET /v1/losses).",
    )
    params: dict[str, dict[str, float | list[float]]] | None = Field(
        default=None,
        description="Fix or narrow parameters: {loss: {param: value or [low, high]}}; the key "
        "'training' takes learning_rate and batch_size.",
        examples=[{"focal": {"gamma": [0.5, 3.0]}, "training": {"learning_rate": [1e-4, 1e-2]}}],
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Seeds the splits and the search.")
    parallelism: ParallelismIn = Field(default_factory=ParallelismIn)
    confirmation: ConfirmationIn = Field(default_factory=ConfirmationIn)
