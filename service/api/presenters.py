"""Turning job, shard and trial rows into response models."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from service.db.models import JobStatus, WebhookDeliveryRow, utcnow
from service.db.reads import JobFields, ShardFields, TrialFields
from service.schemas import (
    BestOut,
    BestSoFar,
    ComparisonOut,
    JobOut,
    MetricOut,
    Progress,
    ShardOut,
    TrialOut,
)
from service.schemas.webhooks import Attempt, DeliveryOut, Notify, WebhookEvent
from service.wording import SEARCH_RUNNING
from workers.engine.metrics import get_metric
from workers.engine.results import (
    Setup,
    TrainingSettings,
    TrialTraining,
    decision_rule,
)
from workers.engine.spec import JobSpec, Task
from workers.engine.trial_records import TRIAL_STATES


def metric_out(spec: JobSpec) -> MetricOut:
    metric = get_metric(spec.metric.name)
    return MetricOut(
        name=metric.name,
        params=dict(spec.metric.params),
        direction=metric.direction.value,
    )


def job_out(row: JobFields, shards: Sequence[ShardFields]) -> JobOut:
    """A job as the API shows it, from its row (progress included) and its shard rows."""
    spec = JobSpec.model_validate(row.spec)
    return JobOut(
        id=row.id,
        status=JobStatus(row.status),
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        elapsed_s=_elapsed(row.started_at, row.finished_at),
        spec=spec,
        direction=get_metric(spec.metric.name).direction.value,
        progress=progress_out(row),
        best=_best_so_far(row),
        error=row.error,
        attempts=sum(s.attempts for s in shards),
        shards=[
            ShardOut(
                shard=s.shard,
                status=s.status,
                worker=s.worker,
                attempts=s.attempts,
                heartbeat_at=s.heartbeat_at,
            )
            for s in shards
        ],
        notify=Notify.model_validate(row.notify) if row.notify else None,
        links=job_links(row.id),
    )


def job_links(job_id: str) -> dict[str, str]:
    """Where to follow a job."""
    base = f"/v1/jobs/{job_id}"
    return {
        "self": base,
        "trials": f"{base}/trials",
        "best": f"{base}/best",
        "report": f"{base}/report",
        "report_html": f"{base}/report.html",
        "cancel": f"{base}/cancel",
        "deliveries": f"{base}/deliveries",
    }


def progress_out(row: JobFields) -> Progress:
    """The job's progress as its row keeps it."""
    finished = row.trials_complete + row.trials_pruned + row.trials_failed
    planned = row.trial_budget
    return Progress(
        planned=planned,
        finished=finished,
        complete=row.trials_complete,
        pruned=row.trials_pruned,
        failed=row.trials_failed,
        running=row.trials_running,
        waiting=row.trials_waiting,
        lost=row.trials_lost,
        fraction=min(1.0, finished / planned) if planned else 1.0,
        updated_at=row.progress_at,
    )


def trial_counts(row: JobFields) -> dict[str, int]:
    """Trials by state (only the states that occur), in the vocabulary of every response."""
    counts = {state: int(getattr(row, f"trials_{state}")) for state in TRIAL_STATES}
    return {state: count for state, count in counts.items() if count}


def _best_so_far(row: JobFields) -> BestSoFar | None:
    if row.best_trial_number is None or row.best_value is None:
        return None
    return BestSoFar(
        trial_number=row.best_trial_number,
        value=row.best_value,
        family=row.best_family,
        loss=row.best_loss,
    )


def trial_out(row: TrialFields) -> TrialOut:
    """One trial record as the API shows it."""
    duration = None
    if row.started_at is not None and row.finished_at is not None:
        duration = (row.finished_at - row.started_at).total_seconds()
    return TrialOut(
        number=row.number,
        state=row.state,  # written from TrialStateName only
        arm=row.arm,
        warm_start_from=row.warm_start_from,
        family=row.family,
        loss=row.loss,
        loss_params=row.loss_params or {},
        training=TrialTraining.model_validate(row.training or {}),
        value=row.value,
        threshold=row.threshold,
        temperature=row.temperature,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_s=duration,
        failure_reason=row.failure_reason,
    )


def _elapsed(started: datetime | None, finished: datetime | None) -> float | None:
    if started is None:
        return None
    return ((finished or utcnow()) - started).total_seconds()


def provisional_best(row: JobFields, best: TrialFields, baseline: TrialFields | None) -> BestOut:
    """Best and baseline so far, validation only, from the job's best trial records."""
    spec = JobSpec.model_validate(row.spec)
    multiclass = spec.planned_task is Task.MULTICLASS
    return BestOut(
        job_id=row.id,
        final=False,
        metric=metric_out(spec),
        best=_setup(best, multiclass),
        baseline=_setup(baseline, multiclass) if baseline is not None else None,
        comparison=ComparisonOut(summary=SEARCH_RUNNING),
        trial_counts=trial_counts(row),
    )


def _setup(trial: TrialFields, multiclass: bool) -> Setup:
    training = trial.training or {}
    seed = training.get("seed")
    threshold, offsets = decision_rule(multiclass, trial.threshold)
    return Setup(
        trial_number=trial.number,
        arm=trial.arm,
        warm_start_from=trial.warm_start_from,
        family=trial.family or "",
        loss=trial.loss or "",
        loss_params=trial.loss_params or {},
        training=TrainingSettings(
            learning_rate=training.get("learning_rate"),
            batch_size=training.get("batch_size"),
            epochs=training.get("best_epoch"),
            seeds=[] if seed is None else [seed],
        ),
        threshold=threshold,
        class_offsets=offsets,
        temperature=trial.temperature,
        trial_validation=trial.value,
        validation=trial.value,
    )


def delivery_out(row: WebhookDeliveryRow) -> DeliveryOut:
    """A webhook message and its attempts, as ``GET /v1/jobs/{id}/deliveries`` shows it."""
    return DeliveryOut(
        id=row.id,
        event=WebhookEvent(row.event),
        url=row.url,
        endpoint_id=row.endpoint_id,
        status=row.status,  # pending | delivered | failed
        attempts=[Attempt.model_validate(attempt) for attempt in row.attempts_log],
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        finished_at=row.finished_at,
        payload=row.payload,
    )
