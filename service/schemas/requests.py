"""Job requests: what a client may ask for.

Every string, list and dict is bounded (generously: the bounds stop abuse, not use), every number
must be finite (Python's json module reads ``NaN`` and ``Infinity``, so the models refuse them),
and no string may hold a control character. The bounds are stated in each field's description
and in the JSON schema, so a client can see them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StringConstraints,
    Tag,
)

from workers.engine.datasets.references import find_control_character
from workers.engine.spec import Family, Task

MAX_TRIALS = 2000
MAX_TIMEOUT_S = 7 * 24 * 3600
MAX_REFERENCE_LENGTH = 4096  # PATH_MAX on Linux
MAX_NAME_LENGTH = 256  # a column, loss, parameter or metric name
MAX_TARGET_COLUMNS = 1000
MAX_LOSSES = 100
MAX_FAMILIES = len(Family)
MAX_OVERRIDDEN = 100  # losses (and 'training') in params
MAX_PARAMS_PER_LOSS = 20
MAX_METRIC_PARAMS = 10

# No C0 control character nor DEL. The JSON schema states the rule as a pattern, so clients and
# generators see it; the validator says which character it found and where.
PLAIN_TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"


def _plain(value: str) -> str:
    found = find_control_character(value)
    if found is not None:
        raise ValueError(f"contains {found}; control characters are not allowed")
    return value


Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(_plain),
    Field(json_schema_extra={"pattern": PLAIN_TEXT_PATTERN}),
]
ShortName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_plain),
    Field(json_schema_extra={"pattern": PLAIN_TEXT_PATTERN}),
]
Reference = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_REFERENCE_LENGTH),
    AfterValidator(_plain),
    Field(json_schema_extra={"pattern": PLAIN_TEXT_PATTERN}),
]
# Numbers keep their JSON type: true is not 1, and "3" is not 3.
Integer = Annotated[int, Strict()]
Number = Annotated[float, Strict()]


def _shape(value: Any) -> str:
    """Which member of a union ``value`` is meant for, so an error speaks of that one only."""
    if isinstance(value, str):
        return "name"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "number"


ParamValue = Annotated[
    Annotated[Number, Tag("number")]
    | Annotated[list[Number], Tag("list"), Field(min_length=2, max_length=2)],
    Discriminator(_shape),
]
MetricParamValue = Annotated[
    Annotated[Number, Tag("number")] | Annotated[ShortName, Tag("name")], Discriminator(_shape)
]


class RequestModel(BaseModel):
    """Base of every request body: unknown fields, NaN and infinities are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class MetricIn(RequestModel):
    """A metric with parameters.

    For example ``{"name": "recall_at_precision", "params": {"min_precision": 0.9}}``.
    """

    name: ShortName
    params: dict[ShortName, MetricParamValue] = Field(
        default_factory=dict,
        max_length=MAX_METRIC_PARAMS,
        description=f"At most {MAX_METRIC_PARAMS} parameters (GET /v1/metrics lists them).",
    )


class BudgetIn(RequestModel):
    """How much the search may spend. It stops at whichever limit comes first."""

    n_trials: Integer = Field(
        default=30, ge=1, le=MAX_TRIALS, description="Trials to run, baseline included."
    )
    timeout_s: Number | None = Field(
        default=None, ge=10, le=MAX_TIMEOUT_S, description="No new trial starts after this long."
    )


class ParallelismIn(RequestModel):
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
        description="Celery tasks working on the job's study at once (more workers, faster).",
    )


class ConfirmationIn(RequestModel):
    """How the winner is confirmed: finalists retrained on fresh seeds before any test figure."""

    top_k: Integer = Field(
        default=3, ge=1, le=10, description="Best setups retrained, with the baseline."
    )
    seeds: Integer = Field(
        default=5, ge=1, le=20, description="Fresh seeds each finalist is trained on."
    )


class JobCreate(RequestModel):
    """A loss-search job."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"dataset": "builtin:breast_cancer", "metric": "f1", "budget": {"n_trials": 20}}
            ]
        },
    )
    dataset: Reference = Field(
        description="builtin:<name>, file:///path, or a path relative to a data root "
        f"(CSV or Parquet); at most {MAX_REFERENCE_LENGTH} characters.",
    )
    target: Annotated[
        Annotated[Name, Tag("name")]
        | Annotated[list[Name], Tag("list"), Field(min_length=1, max_length=MAX_TARGET_COLUMNS)],
        Discriminator(_shape),
    ] = Field(
        default="target",
        description="The target column, or several 0/1 columns for a multilabel task (at "
        f"most {MAX_TARGET_COLUMNS}); shell-style patterns such as 'label_*' are expanded. "
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
    metric: Annotated[
        Annotated[ShortName, Tag("name")] | Annotated[MetricIn, Tag("object")],
        Discriminator(_shape),
    ] = Field(description="The metric the model is judged by: a name, or a name with params.")
    budget: BudgetIn = Field(default_factory=BudgetIn)
    families: list[Family] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FAMILIES,
        description="Loss families to search; all by default.",
    )
    losses: list[Name] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LOSSES,
        description=f"Search only these losses (names from GET /v1/losses; at most {MAX_LOSSES}).",
    )
    params: (
        dict[Name, Annotated[dict[ShortName, ParamValue], Field(max_length=MAX_PARAMS_PER_LOSS)]]
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
    parallelism: ParallelismIn = Field(default_factory=ParallelismIn)
    confirmation: ConfirmationIn = Field(default_factory=ConfirmationIn)
