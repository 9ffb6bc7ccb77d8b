"""Turning job rows and Optuna trials into response models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from service.db.models import JobRow, JobStatus, ShardRow, utcnow
from service.schemas import BestOut, JobOut, JobSpecOut, MetricOut, SetupOut, ShardOut
from service.trials import best_so_far, best_summary, progress
from workers.engine.losses import baseline_loss
from workers.engine.metrics import get_metric
from workers.engine.spec import SearchSpec


def spec_out(spec: SearchSpec) -> JobSpecOut:
    return JobSpecOut(
        dataset=spec.dataset,
        target=list(spec.target),
        task=spec.task,
        metric=metric_out(spec),
        n_trials=spec.n_trials,
        timeout_s=spec.timeout_s,
        families=list(spec.families),
        losses=list(spec.losses),
        params=spec.overrides,
        seed=spec.seed,
        population_size=spec.population_size,
        confirmation={"top_k": spec.confirmation_top_k, "seeds": spec.confirmation_seeds},
        split_column=spec.split_column,
        test_dataset=spec.test_dataset,
    )


def metric_out(spec: SearchSpec) -> MetricOut:
    metric = get_metric(spec.metric.name)
    return MetricOut(
        name=metric.name,
        params=dict(spec.metric.params),
        direction=metric.direction.value,
    )


def job_out(row: JobRow, shards: list[ShardRow], trials: list[FrozenTrial]) -> JobOut:
    spec = SearchSpec.from_dict(row.spec)
    maximize = get_metric(spec.metric.name).greater_is_better
    return JobOut(
        id=row.id,
        status=JobStatus(row.status),
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        elapsed_s=_elapsed(row.started_at, row.finished_at),
        spec=spec_out(spec),
        progress=progress(trials, spec.n_trials),
        best=best_summary(best_so_far(trials, maximize)),
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
        links={
            "self": f"/v1/jobs/{row.id}",
            "trials": f"/v1/jobs/{row.id}/trials",
            "best": f"/v1/jobs/{row.id}/best",
            "report": f"/v1/jobs/{row.id}/report",
            "report_html": f"/v1/jobs/{row.id}/report.html",
            "cancel": f"/v1/jobs/{row.id}/cancel",
        },
    )


def _elapsed(started: datetime | None, finished: datetime | None) -> float | None:
    if started is None:
        return None
    return ((finished or utcnow()) - started).total_seconds()


def final_best(row: JobRow) -> BestOut:
    """The best setup recorded by the worker when the search finished."""
    result: dict[str, Any] = dict(row.result or {})
    return BestOut(job_id=row.id, final=True, **result)


def provisional_best(row: JobRow, trials: list[FrozenTrial]) -> BestOut | None:
    """Best and baseline so far from the trials, validation only; None before any completes."""
    spec = SearchSpec.from_dict(row.spec)
    maximize = get_metric(spec.metric.name).greater_is_better
    best = best_so_far(trials, maximize)
    if best is None:
        return None
    baseline_name = baseline_loss(spec.task).name
    baseline = best_so_far(
        [t for t in trials if t.user_attrs.get("loss") == baseline_name], maximize
    )
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    return BestOut(
        job_id=row.id,
        final=False,
        metric=metric_out(spec),
        best=_setup(best),
        baseline=_setup(baseline) if baseline is not None else None,
        comparison={
            "test_lift": None,
            "summary": "The search has not finished: test metrics are computed for the final "
            "best setup and the baseline when it does.",
        },
        trial_counts=counts,
    )


def _setup(trial: FrozenTrial) -> SetupOut:
    attrs = trial.user_attrs
    threshold = attrs.get("threshold")
    assert trial.state == TrialState.COMPLETE
    return SetupOut(
        trial_number=trial.number,
        arm=attrs.get("arm"),
        family=attrs.get("family", ""),
        loss=attrs.get("loss", ""),
        loss_params=attrs.get("loss_params") or {},
        training={k: attrs[k] for k in ("learning_rate", "seed", "best_epoch") if k in attrs},
        threshold={"logit": threshold} if threshold is not None else None,
        trial_validation=trial.value,
        validation=trial.value,
    )
