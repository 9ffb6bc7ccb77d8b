"""The job report as JSON: the answer, how sure we are, and everything needed to check it."""

from __future__ import annotations

from collections import Counter

from service.api.presenters import job_out
from service.db.models import JobRow, JobStatus, ShardRow, TrialRow
from service.results import comparison_out
from service.schemas.reports import (
    FamilyBest,
    HistoryPoint,
    ReportJob,
    ReportMetric,
    ReportOut,
    ReportSearch,
    ReportTrials,
)
from service.wording import CANCELLED, RUNNING, failed
from workers.engine.metrics import get_metric
from workers.engine.results import SearchResult
from workers.engine.spec import JobSpec


def build_report(row: JobRow, shards: list[ShardRow], trials: list[TrialRow]) -> ReportOut:
    """Everything about a job's search and its result (``final`` once the job succeeded)."""
    spec = JobSpec.model_validate(row.spec)
    metric = get_metric(spec.metric.name)
    result = SearchResult.model_validate(row.result) if row.result else None
    final = row.status == JobStatus.SUCCEEDED.value and result is not None
    comparison = comparison_out(result) if result is not None else None
    return ReportOut(
        job=_job(row, shards),
        final=final,
        summary=comparison.summary if final and comparison is not None else _status(row),
        metric=ReportMetric(
            name=metric.name,
            params=dict(spec.metric.params),
            direction=metric.direction.value,
            description=metric.description,
        ),
        winner=result.best if result else None,
        baseline=result.baseline if result else None,
        comparison=comparison,
        confirmation=result.confirmation if result else None,
        trials=ReportTrials(
            by_state=dict(Counter(t.state for t in trials)),
            by_family=_by_family(trials),
            best_per_family=_best_per_family(trials, metric.greater_is_better),
            history=_history(trials, metric.greater_is_better),
        ),
        search=_search(spec, result),
        dataset=result.dataset if result else None,
        environment=result.environment if result else None,
    )


def _job(row: JobRow, shards: list[ShardRow]) -> ReportJob:
    job = job_out(row, shards)
    return ReportJob(
        id=row.id,
        status=row.status,
        created_at=job.created_at.isoformat(),
        started_at=job.started_at.isoformat() if job.started_at else None,
        finished_at=job.finished_at.isoformat() if job.finished_at else None,
        elapsed_s=job.elapsed_s,
        error=row.error,
    )


def _search(spec: JobSpec, result: SearchResult | None) -> ReportSearch:
    return ReportSearch(
        spec=spec,
        space=result.search_space if result else None,
        training=result.training if result else None,
        network=result.network if result else None,
        sampler="Optuna TPE (constant liar), median pruning against completed and "
        "concurrently running trials",
    )


def _status(row: JobRow) -> str:
    """The summary of a job without a final result."""
    if row.status == JobStatus.FAILED.value:
        return failed(row.error)
    if row.status == JobStatus.CANCELLED.value:
        return CANCELLED
    return RUNNING


def _family(trial: TrialRow) -> str:
    return trial.family or "unknown"


def _by_family(trials: list[TrialRow]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {}
    for trial in trials:
        counts.setdefault(_family(trial), Counter())[trial.state] += 1
    return {family: dict(states) for family, states in sorted(counts.items())}


def _completed_value(trial: TrialRow) -> float | None:
    return trial.value if trial.state == "complete" else None


def _best_per_family(trials: list[TrialRow], maximize: bool) -> dict[str, FamilyBest]:
    best: dict[str, TrialRow] = {}
    sign = 1.0 if maximize else -1.0
    for trial in trials:
        value = _completed_value(trial)
        if value is None:
            continue
        current = best.get(_family(trial))
        if current is None or sign * value > sign * float(current.value or 0.0):
            best[_family(trial)] = trial
    return {
        family: FamilyBest(
            trial_number=trial.number,
            loss=trial.loss,
            loss_params=trial.loss_params or {},
            learning_rate=(trial.training or {}).get("learning_rate"),
            validation=trial.value,
        )
        for family, trial in sorted(best.items())
    }


def _history(trials: list[TrialRow], maximize: bool) -> list[HistoryPoint]:
    """Each trial in order, with the best validation value reached so far."""
    history = []
    best: float | None = None
    for trial in sorted(trials, key=lambda t: t.number):
        value = _completed_value(trial)
        if value is not None and (best is None or (value > best if maximize else value < best)):
            best = value
        history.append(
            HistoryPoint(
                number=trial.number,
                state=trial.state,
                family=_family(trial),
                loss=trial.loss,
                loss_params=trial.loss_params or {},
                value=value,
                best_so_far=best,
            )
        )
    return history
