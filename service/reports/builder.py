"""The job report as JSON: the answer, how sure we are, and everything needed to check it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from service.api.presenters import job_out
from service.db.models import JobRow, JobStatus, ShardRow, TrialRow
from workers.engine.metrics import get_metric
from workers.engine.spec import SearchSpec


def build_report(row: JobRow, shards: list[ShardRow], trials: list[TrialRow]) -> dict[str, Any]:
    """Everything about a job's search and its result (``final`` once the job succeeded)."""
    spec = SearchSpec.from_dict(row.spec)
    metric = get_metric(spec.metric.name)
    result = row.result or {}
    final = row.status == JobStatus.SUCCEEDED.value and bool(result)
    job = job_out(row, shards)
    return {
        "job": {
            "id": row.id,
            "status": row.status,
            "created_at": job.created_at.isoformat(),
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "elapsed_s": job.elapsed_s,
            "error": row.error,
        },
        "final": final,
        "summary": _summary(row, result, final),
        "metric": {
            "name": metric.name,
            "params": dict(spec.metric.params),
            "direction": metric.direction.value,
            "description": metric.description,
        },
        "winner": result.get("best"),
        "baseline": result.get("baseline"),
        "comparison": result.get("comparison"),
        "confirmation": result.get("confirmation"),
        "trials": {
            "by_state": dict(Counter(t.state for t in trials)),
            "by_family": _by_family(trials),
            "best_per_family": _best_per_family(trials, metric.greater_is_better),
            "history": _history(trials, metric.greater_is_better),
        },
        "search": {
            "dataset": spec.dataset,
            "target": list(spec.target),
            "task": spec.task.value,
            "budget": {"n_trials": spec.n_trials, "timeout_s": spec.timeout_s},
            "families": [f.value for f in spec.families],
            "losses": list(spec.losses),
            "params": spec.overrides,
            "seed": spec.seed,
            "population_size": spec.population_size,
            "shards": row.shards,
            "confirmation": {"top_k": spec.confirmation_top_k, "seeds": spec.confirmation_seeds},
            "space": result.get("search_space"),
            "training": result.get("training"),
            "network": result.get("network"),
            "sampler": "Optuna TPE (constant liar), median pruning against completed and "
            "concurrently running trials",
        },
        "dataset": result.get("dataset"),
        "environment": result.get("environment"),
    }


def _summary(row: JobRow, result: dict[str, Any], final: bool) -> str:
    if final:
        comparison = result.get("comparison") or {}
        return str(comparison.get("summary", ""))
    if row.status == JobStatus.FAILED.value:
        return f"The job failed: {row.error}"
    if row.status == JobStatus.CANCELLED.value:
        return "The job was cancelled; its completed trials are kept, but no result was confirmed."
    return "The search is still running: the winner and the test comparison come at the end."


def _family(trial: TrialRow) -> str:
    return trial.family or "unknown"


def _by_family(trials: list[TrialRow]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {}
    for trial in trials:
        counts.setdefault(_family(trial), Counter())[trial.state] += 1
    return {family: dict(states) for family, states in sorted(counts.items())}


def _completed_value(trial: TrialRow) -> float | None:
    return trial.value if trial.state == "complete" else None


def _best_per_family(trials: list[TrialRow], maximize: bool) -> dict[str, dict[str, Any]]:
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
        family: {
            "trial_number": trial.number,
            "loss": trial.loss,
            "loss_params": trial.loss_params or {},
            "learning_rate": (trial.training or {}).get("learning_rate"),
            "validation": trial.value,
        }
        for family, trial in sorted(best.items())
    }


def _history(trials: list[TrialRow], maximize: bool) -> list[dict[str, Any]]:
    """Each trial in order, with the best validation value reached so far."""
    history = []
    best: float | None = None
    for trial in sorted(trials, key=lambda t: t.number):
        value = _completed_value(trial)
        if value is not None and (best is None or (value > best if maximize else value < best)):
            best = value
        history.append(
            {
                "number": trial.number,
                "state": trial.state,
                "family": _family(trial),
                "loss": trial.loss,
                "loss_params": trial.loss_params or {},
                "value": value,
                "best_so_far": best,
            }
        )
    return history
