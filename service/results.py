"""A finished job's result as the service shows it: the /best view, its comparison with the
sentence that explains it, and the short summary /events and the job.succeeded webhook send.

Below the API routes, so the webhook outbox (written by the workers) shares it with them.
"""

from __future__ import annotations

from typing import Any

from service.db.models import JobRow
from service.schemas import BestOut, ComparisonOut, MetricOut
from service.wording import comparison_summary
from workers.engine.results import SearchResult


def final_best(row: JobRow) -> BestOut:
    """The best setup recorded by the worker when the search finished."""
    result = SearchResult.model_validate(row.result)
    return BestOut(
        job_id=row.id,
        final=True,
        metric=MetricOut.model_validate(result.metric.model_dump()),
        best=result.best,
        baseline=result.baseline,
        comparison=comparison_out(result),
        confirmation=result.confirmation,
        network=result.network,
        dataset=result.dataset,
        search_space=result.search_space,
        trial_counts=result.trial_counts,
        training=result.training,
        environment=result.environment,
        warm_start=result.warm_start,
    )


def result_summary(row: JobRow) -> dict[str, Any]:
    """The winner of a succeeded job in a few fields (the /events result, job.succeeded)."""
    best = final_best(row)
    return {
        "metric": best.metric.name,
        "loss": best.best.loss,
        "family": best.best.family,
        "loss_params": best.best.loss_params,
        "verdict": best.comparison.verdict,
        "summary": best.comparison.summary,
        "url": f"/v1/jobs/{row.id}/best",
    }


def comparison_out(result: SearchResult) -> ComparisonOut:
    """A finished result's comparison, with the sentence that explains it."""
    return ComparisonOut(**result.comparison.model_dump(), summary=comparison_summary(result))
