"""The job spec: one validated model for what a search is asked to do.

:class:`JobSpec` is the body a client POSTs, the spec the service stores and shows, and what the
engine runs. As sent, it may leave things out (the task, the families, a metric's parameters);
:func:`workers.engine.planning.plan_search` checks it against the data and returns it *planned*:
task inferred, target patterns expanded, metric parameters resolved, families filled in. A new
job field is added here, and only here unless the engine or a view must act on it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from workers.engine.errors import SpecError
from workers.engine.spec_fields import (
    MAX_LOSSES,
    MAX_METRIC_PARAMS,
    MAX_NAME_LENGTH,
    MAX_OVERRIDDEN,
    MAX_PARAMS_PER_LOSS,
    MAX_REFERENCE_LENGTH,
    MAX_TARGET_COLUMNS,
    MAX_TIMEOUT_S,
    MAX_TRIALS,
    Integer,
    MetricParamValue,
    Name,
    NameKey,
    Number,
    ParamValue,
    Reference,
    ShortKey,
    ShortName,
    SpecModel,
)

MAX_TAGS = 20
MAX_WARM_START_JOBS = 20
JobId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


class Task(StrEnum):
    """What the target column(s) hold and therefore what the model predicts."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    MULTILABEL = "multilabel"
    REGRESSION = "regression"


class Family(StrEnum):
    """The three families of training losses the search draws from."""

    PROXY = "proxy"
    WEIGHTED = "weighted"
    SURROGATE = "surrogate"


class MetricRef(SpecModel):
    """A metric by name with its parameters.

    For example ``{"name": "recall_at_precision", "params": {"min_precision": 0.9}}``.
    """

    name: ShortName
    params: dict[ShortKey, MetricParamValue] = Field(
        default_factory=dict,
        max_length=MAX_METRIC_PARAMS,
        description=f"At most {MAX_METRIC_PARAMS} parameters (GET /v1/metrics lists them).",
    )


class Budget(SpecModel):
    """How much the search may spend. It stops at whichever limit comes first."""

    n_trials: Integer = Field(
        default=30, ge=1, le=MAX_TRIALS, description="Trials to run, baseline included."
    )
    timeout_s: Number | None = Field(
        default=None, ge=10, le=MAX_TIMEOUT_S, description="No new trial starts after this long."
    )


class Parallelism(SpecModel):
    """How the search uses workers: trials trained at once, and tasks the job is split into."""

    population_size: Integer | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="Trials trained together as one population; chosen from the model, the data "
        "and the free memory when omitted.",
    )
    shards: Integer | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Celery tasks working on the job's study at once (more workers, faster); "
        "the service's default when omitted.",
    )


class Confirmation(SpecModel):
    """How the winner is confirmed: finalists retrained on fresh seeds before any test figure."""

    top_k: Integer = Field(
        default=3, ge=1, le=10, description="Best setups retrained, with the baseline."
    )
    seeds: Integer = Field(
        default=5, ge=1, le=20, description="Fresh seeds each finalist is trained on."
    )
    folds: Integer = Field(
        default=5,
        ge=0,
        le=10,
        description="Folds of the training rows over which the leader and the baseline are "
        "cross-fitted for the gate (0: the gate compares them on validation only; 1 is not "
        "allowed).",
    )
    seeds_per_fold: Integer = Field(
        default=5,
        ge=1,
        le=10,
        description="Seeds each of the two is trained on in every fold (as many as the "
        "confirmation's by default: fewer leave more training noise in the comparison).",
    )

    @field_validator("folds")
    @classmethod
    def _not_one_fold(cls, value: int) -> int:
        if value == 1:
            raise ValueError("folds must be 0 (no cross-fitting) or at least 2")
        return value


class WarmStart(SpecModel):
    """Earlier jobs whose best setups the search tries first."""

    from_jobs: list[JobId] = Field(
        min_length=1,
        max_length=MAX_WARM_START_JOBS,
        description="Ids of the caller's own succeeded jobs with a metric of the same task "
        f"(at most {MAX_WARM_START_JOBS}, each once).",
    )

    @field_validator("from_jobs")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        repeated = sorted({job for job in value if value.count(job) > 1})
        if repeated:
            raise ValueError(f"job {repeated[0]!r} is named more than once")
        return value


# A client may send the short forms (a metric by name, one target column); the spec keeps the
# long ones, so everything that reads a spec sees one shape.
def _metric_object(value: Any) -> Any:
    if isinstance(value, str):
        return {"name": value}
    if not isinstance(value, dict | MetricRef):
        raise ValueError('expected a metric name or {"name": ..., "params": {...}}')
    return value


def _target_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list | tuple):
        raise ValueError("expected a column name or a list of column names")
    return value


TargetColumns = Annotated[
    list[Name],
    Field(min_length=1, max_length=MAX_TARGET_COLUMNS),
    BeforeValidator(_target_list, json_schema_input_type=Name | list[Name]),
]
Metric = Annotated[
    MetricRef, BeforeValidator(_metric_object, json_schema_input_type=ShortName | MetricRef)
]


class JobSpec(SpecModel):
    """A loss-search job: the data, the metric it is judged by, and what the search may do."""

    model_config = ConfigDict(  # merged with SpecModel's
        json_schema_extra={
            "examples": [
                {"dataset": "builtin:breast_cancer", "metric": "f1", "budget": {"n_trials": 20}}
            ]
        }
    )

    dataset: Reference = Field(
        description="dataset:<id> (an upload, POST /v1/datasets), builtin:<name>, file:///path, "
        "or a path relative to a data root (CSV, also .gz, .bz2, .xz; Parquet; Arrow/Feather); "
        f"at most {MAX_REFERENCE_LENGTH} characters.",
    )
    target: TargetColumns = Field(
        default=["target"],
        description="The target column, or several 0/1 columns for a multilabel task, or, with "
        "task 'multiclass', several columns holding a class distribution per row (soft targets; "
        f"at most {MAX_TARGET_COLUMNS} columns); shell-style patterns such as 'label_*' are "
        "expanded. "
        f"Names have at most {MAX_NAME_LENGTH} characters.",
    )
    task: Task | None = Field(default=None, description="Inferred from the target when omitted.")
    split_column: Name | None = Field(
        default=None,
        description="A column saying which rows are train, validation or test (case-insensitive; "
        "without validation rows, validation is carved from train). By default the split is "
        "random: 60/20/20, seeded, stratified where the task allows.",
    )
    test_dataset: Reference | None = Field(
        default=None,
        description="A separate file of test rows with the same columns, referenced like "
        "`dataset`; the dataset itself is then split into train and validation only.",
    )
    metric: Metric = Field(
        description="The metric the model is judged by: a name, or a name with params."
    )
    budget: Budget = Field(default_factory=Budget)
    families: list[Family] | None = Field(
        default=None,
        min_length=1,
        max_length=len(Family),
        description="Loss families to search; all by default.",
    )
    losses: list[Name] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LOSSES,
        description=f"Search only these losses (names from GET /v1/losses; at most {MAX_LOSSES}).",
    )
    params: (
        dict[NameKey, Annotated[dict[ShortKey, ParamValue], Field(max_length=MAX_PARAMS_PER_LOSS)]]
        | None
    ) = Field(
        default=None,
        max_length=MAX_OVERRIDDEN,
        description="Fix or narrow parameters: {loss: {param: value or [low, high]}}; the key "
        "'training' takes learning_rate and batch_size. At most "
        f"{MAX_OVERRIDDEN} losses and {MAX_PARAMS_PER_LOSS} parameters each; numbers are finite.",
        examples=[{"focal": {"gamma": [0.5, 3.0]}, "training": {"learning_rate": [1e-4, 1e-2]}}],
    )
    seed: Integer = Field(
        default=0, ge=0, le=2**31 - 1, description="Seeds the splits and the search."
    )
    parallelism: Parallelism = Field(default_factory=Parallelism)
    confirmation: Confirmation = Field(default_factory=Confirmation)
    tags: dict[ShortKey, Name] = Field(
        default_factory=dict,
        max_length=MAX_TAGS,
        description="Labels for the caller's own bookkeeping (a pipeline, a run id): stored and "
        f"shown with the job, not used by the search. At most {MAX_TAGS}.",
        examples=[{"pipeline": "churn-weekly", "run": "2026-12-05"}],
    )

    warm_start: Literal["auto"] | WarmStart | None = Field(
        default=None,
        description="Start from what earlier jobs found: their best setups run as the first "
        'trials after the baseline. {"from_jobs": [ids]} names them; "auto" takes the '
        "tenant's latest succeeded jobs (at most 5) on a dataset with the same fingerprint and "
        "a metric of the same task. A setup this job's search space cannot hold (another loss, "
        "a parameter out of range) is skipped; the result says which trials came from where.",
        examples=[{"from_jobs": ["3f2b8c1e-0d4a-4c3e-9a57-1b2c3d4e5f60"]}, "auto"],
    )

    @property
    def planned_task(self) -> Task:
        """The task of a planned spec (one :func:`plan_search` returned)."""
        if self.task is None:
            raise SpecError("this spec is not planned: plan_search fills in its task", "task")
        return self.task
