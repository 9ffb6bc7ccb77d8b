"""Job views: status, progress, shards, trials, pages."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from service.db.models import JobStatus
from service.schemas.webhooks import Notify
from workers.engine.param_values import ParamJson
from workers.engine.results import TrialTraining
from workers.engine.spec import JobSpec
from workers.engine.trial_records import TrialStateName

T = TypeVar("T")


class MetricOut(BaseModel):
    name: str
    params: dict[str, ParamJson]
    direction: Literal["maximize", "minimize"]


class Progress(BaseModel):
    """Where the search stands, counted from the trial records as the workers write them."""

    planned: int = Field(description="The trial budget.")
    finished: int = Field(description="Trials that completed, were pruned or failed.")
    complete: int
    pruned: int
    failed: int
    running: int
    waiting: int = Field(description="Trials queued to run (the baseline, re-queued trials).")
    lost: int = Field(
        description="Trials whose worker died; each was queued again with the same parameters "
        "and seed, so they do not count against the budget."
    )
    fraction: float = Field(description="finished / planned, capped at 1.")
    updated_at: datetime | None = Field(description="When a trial of the job last changed.")


class BestSoFar(BaseModel):
    trial_number: int
    value: float
    family: str | None
    loss: str | None


class ShardOut(BaseModel):
    """One of the job's Celery tasks."""

    shard: int
    status: Literal["queued", "running", "done"]
    worker: str | None
    attempts: int
    heartbeat_at: datetime | None


class JobOut(BaseModel):
    id: str
    status: JobStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    elapsed_s: float | None
    spec: JobSpec = Field(
        description="The job as it runs: as sent, planned (task inferred, target patterns "
        "expanded, metric parameters and families filled in)."
    )
    direction: Literal["maximize", "minimize"] = Field(
        description="Whether the metric is maximised or minimised: how to read best.value and "
        "the trials' values."
    )
    progress: Progress
    best: BestSoFar | None
    error: str | None
    attempts: int = Field(description="Deliveries of the job's shards to workers, all together.")
    shards: list[ShardOut]
    notify: Notify | None = Field(
        default=None,
        description="Where this job's own webhooks go (null: only the tenant's "
        "endpoints get them).",
    )
    links: dict[str, str]


class JobSubmission(JobSpec):
    """A job as submitted: its spec, and where to send its webhooks."""

    notify: Notify | None = Field(
        default=None,
        description="Send this job's webhooks to this URL too (signed with the tenant's secret, "
        "GET /v1/webhooks/secret), for these events.",
        examples=[{"url": "https://ci.example.com/hooks/loss-search", "events": ["job.succeeded"]}],
    )

    def spec(self) -> JobSpec:
        """The job's spec without the delivery options."""
        return JobSpec.model_validate(self.model_dump(exclude={"notify"}, exclude_unset=True))


class TrialOut(BaseModel):
    number: int
    state: TrialStateName
    arm: str | None = Field(
        description="baseline (the plain loss), warm_start (an earlier job's best setup, tried "
        "first) or search."
    )
    warm_start_from: str | None = Field(
        default=None, description="For a warm_start trial: the earlier job whose best setup it ran."
    )
    family: str | None
    loss: str | None
    loss_params: dict[str, float]
    training: TrialTraining
    value: float | None = Field(
        description="Validation metric (its last reported value if pruned)."
    )
    threshold: float | list[float] | None = Field(
        description="Decision threshold on the logit (one per label for multilabel), tuned on "
        "validation; for multiclass, the offsets added to the class logits before the arg-max "
        "(tuned for macro_f1, weighted_f1 and balanced_accuracy)."
    )
    temperature: float | None = Field(
        default=None,
        description="For log_loss, brier and ece: the temperature T fitted on validation that "
        "divides the logits before the sigmoid or softmax (null for other metrics).",
    )
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    failure_reason: str | None


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
