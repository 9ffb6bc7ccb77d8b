"""Rich tables of jobs and results for ``loss-search submit | jobs | show | best``."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text

from service.numbers import estimate, mean_std, probability
from service.schemas import BestOut, JobOut
from workers.engine.results import Setup


def jobs_rows(jobs: Sequence[JobOut]) -> list[tuple[str, ...]]:
    """One row per job (and a header): id, status, created, trials, metric, best so far,
    dataset. Plain columns, as ``keys list`` prints them: a script can cut them apart."""
    header = ("ID", "STATUS", "CREATED", "TRIALS", "METRIC", "BEST", "DATASET")
    return [header, *(_job_row(job) for job in jobs)]


def _job_row(job: JobOut) -> tuple[str, ...]:
    return (
        job.id,
        job.status.value,
        f"{job.created_at:%Y-%m-%d %H:%M:%SZ}",
        f"{job.progress.finished}/{job.progress.planned}",
        job.spec.metric.name,
        "-" if job.best is None else f"{job.best.value:.4g}:{job.best.loss}",
        job.spec.dataset,
    )


def job_table(job: JobOut) -> Table:
    """One job, field by field."""
    table = _fields(f"job {job.id}")
    spec = job.spec
    table.add_row("status", job.status.value)
    table.add_row("dataset", spec.dataset)
    table.add_row("task", spec.task.value if spec.task else "-")
    table.add_row("metric", f"{spec.metric.name} ({job.direction})")
    progress = job.progress
    table.add_row(
        "trials",
        f"{progress.finished}/{progress.planned} finished: {progress.complete} complete, "
        f"{progress.pruned} pruned, {progress.failed} failed; {progress.running} running",
    )
    table.add_row("best so far", _best_so_far(job))
    table.add_row("created", f"{job.created_at:%Y-%m-%d %H:%M:%S}")
    table.add_row("elapsed", "-" if job.elapsed_s is None else f"{job.elapsed_s:.1f} s")
    if job.error:
        table.add_row("error", job.error)
    return table


def best_table(best: BestOut) -> Group:
    """The returned setup beside the baseline, then the sentence that says what it means (as
    wide as the terminal, not the table). When the returned setup is the baseline itself (the
    answer is to keep it), one column says so."""
    metric = best.metric
    state = "final" if best.final else "provisional: the search is running"
    table = Table(
        title=f"job {best.job_id}: {metric.name} ({metric.direction}), {state}",
        title_justify="left",
    )
    table.add_column("")
    baseline = best.baseline
    if baseline is not None and baseline.trial_number == best.best.trial_number:
        columns: list[tuple[str, Setup | None]] = [("BASELINE (keep it)", baseline)]
    else:
        columns = [("BEST", best.best), ("BASELINE", baseline)]
    for title, _ in columns:
        table.add_column(title)
    for label, cell in (
        ("loss", lambda s: f"{s.loss} ({s.family})"),
        ("parameters", _params),
        ("learning rate", lambda s: _rate(s.training.learning_rate)),
        ("validation", lambda s: mean_std(s.validation, s.validation_std)),
        ("test", lambda s: estimate(s.test, s.test_interval)),
        ("threshold", _threshold),
    ):
        table.add_row(label, *(cell(s) if s else "-" for _, s in columns))
    verdict = best.comparison.verdict
    table.add_row("verdict", verdict.value if verdict else "-", *([""] * (len(columns) - 1)))
    return Group(table, Text(best.comparison.summary))


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.3g}"


def _threshold(setup: Setup) -> str:
    """The decision threshold as a probability, with its logit (one per label: their count)."""
    threshold = setup.threshold
    if threshold is None:
        return "-" if setup.class_offsets is None else "class offsets (see --format json)"
    logit, chance = threshold.logit, threshold.probability
    if isinstance(logit, list) or isinstance(chance, list):
        return "one per label (see --format json)"
    return f"p >= {probability(chance)} (logit {logit:.3g})"


def _best_so_far(job: JobOut) -> str:
    return "-" if job.best is None else f"{job.best.value:.4g} ({job.best.loss})"


def _fields(title: str) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    return table


def _params(setup: Setup) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in setup.loss_params.items()) or "-"
