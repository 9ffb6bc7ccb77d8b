"""Search quality: does the returned loss beat a tuned-threshold baseline on the test split?

    python -m bench.quality [--trials 60] [--jobs 2] [--only yeast4,concrete] [--json out.json]
    python -m bench.quality --references-only   # the reference columns alone, in seconds
    python -m bench.quality --synthetic [--seeds 20] [--jobs 2]   # the gate's calibration

Runs the service's own search (``workers.engine.search.run_search``: Optuna on SQLite storage,
pruning, threshold tuning on validation, confirmation of the top setups and the baseline on fresh
seeds, paired bootstrap on the test split) on the public datasets in ``bench/datasets``, one
metric per dataset that suits it, with the same fixed budget for each. Prints a markdown table:
baseline and winner on test (mean over the confirmation seeds, 95% bootstrap interval), the
paired lift with its interval, and the winning loss; beside them, the reference columns of
``bench.reference_models`` (logistic regression or ridge, and HistGradientBoosting, on the same
split with the decision tuned the same way), so the searched MLP can be set against what a user
would otherwise pick.

"worse" in the verdict column would mean the returned winner is significantly worse than the
baseline on test: the thing this service must never do.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import BENCH_DATASETS, machine, table

if TYPE_CHECKING:
    from workers.engine.results import SearchResult
    from workers.engine.spec import JobSpec


@dataclass(frozen=True)
class Case:
    """One benchmark job: a dataset and the metric it is judged on."""

    name: str
    file: str
    task: str
    metric: str
    metric_params: tuple[tuple[str, float], ...] = ()
    target: tuple[str, ...] = ("target",)

    @property
    def metric_label(self) -> str:
        params = ", ".join(f"{k}={v:g}" for k, v in self.metric_params)
        return f"{self.metric}({params})" if params else self.metric


CASES = (
    Case("yeast4", "yeast4.csv.gz", "binary", "f1"),
    Case("winequality_red_4", "winequality_red_4.csv.gz", "binary", "f1"),
    Case("pc1", "pc1.csv.gz", "binary", "pr_auc"),
    Case(
        "page_blocks0",
        "page_blocks0.csv.gz",
        "binary",
        "recall_at_precision",
        (("min_precision", 0.9),),
    ),
    Case("spambase", "spambase.csv.gz", "binary", "f1"),
    Case("satimage", "satimage.csv.gz", "multiclass", "macro_f1"),
    Case("page_blocks", "page_blocks.csv.gz", "multiclass", "macro_f1"),
    Case("solar_flare", "solar_flare.csv.gz", "multilabel", "macro_f1", target=("label_*",)),
    Case("concrete", "concrete.csv.gz", "regression", "mae"),
    Case("ccpp", "ccpp.csv.gz", "regression", "mape"),
    Case("winequality_white", "winequality_white.csv.gz", "regression", "mae"),
    Case("diabetes", "diabetes.csv.gz", "regression", "mape"),
)


def run_case(
    case: Case, trials: int, seed: int, threads: int, search: bool = True
) -> dict[str, Any]:
    """Run one job through the engine (unless ``search`` is off) and score the reference
    models on the same split; keep what the table needs."""
    import optuna
    import torch

    from bench.reference_models import reference_scores
    from workers.engine.datasets import (
        expand_target,
        prepare_dataset,
        read_columns,
        resolve_reference,
    )
    from workers.engine.spec import Budget, Family, JobSpec, MetricRef, Task

    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    roots = [Path(BENCH_DATASETS)]
    target = expand_target(read_columns(resolve_reference(case.file, roots)), case.target)
    spec = JobSpec(
        dataset=case.file,
        target=list(target),
        task=Task(case.task),
        metric=MetricRef(name=case.metric, params=dict(case.metric_params)),
        budget=Budget(n_trials=trials),
        families=list(Family),
        seed=seed,
    )
    data = prepare_dataset(resolve_reference(case.file, roots), target, Task(case.task), seed)
    references = {
        score.model: score.test
        for score in reference_scores(data, case.metric, dict(case.metric_params), seed)
    }
    if not search:
        return {
            "case": case.name,
            "task": case.task,
            "metric": case.metric_label,
            "references": references,
        }
    found, seconds = timed_search(spec, case.name, roots)
    result = found.model_dump(mode="json")  # plain data: it crosses processes
    return {
        "case": case.name,
        "task": case.task,
        "metric": case.metric_label,
        "seconds": seconds,
        "best": _arm(result["best"]),
        "baseline": _arm(result["baseline"]) if result.get("baseline") else None,
        "comparison": result["comparison"],
        "trial_counts": result.get("trial_counts"),
        "references": references,
    }


def timed_search(spec: JobSpec, name: str, roots: list[Path]) -> tuple[SearchResult, float]:
    """Run one job through the engine on a throw-away SQLite study; its result and wall time."""
    from workers.engine.search import run_search
    from workers.engine.search_context import SearchContext
    from workers.engine.studies import make_storage

    with tempfile.TemporaryDirectory() as tmp:
        context = SearchContext(
            storage=make_storage(f"sqlite:///{Path(tmp) / 'bench.db'}"),
            study_name=f"bench-{name}",
            data_roots=roots,
            exclusive=True,
        )
        started = time.perf_counter()
        outcome = run_search(spec, context)
        seconds = time.perf_counter() - started
    assert outcome.result is not None, f"{name}: the search was stopped"
    return outcome.result, seconds


def _arm(setup: dict[str, Any]) -> dict[str, Any]:
    keys = ("loss", "family", "loss_params", "validation", "test", "test_interval", "trial_number")
    return {key: setup.get(key) for key in keys}


def verdict(comparison: dict[str, Any], same_arm: bool) -> str:
    """better / no difference / worse, from the paired test interval of the lift."""
    if same_arm:
        return "kept baseline"
    low, high = comparison.get("test_lift_interval") or (0.0, 0.0)
    if low > 0:
        return "better"
    if high < 0:
        return "WORSE"
    return "no difference"


def _with_interval(value: float | None, interval: list[float] | None) -> str:
    if value is None:
        return "n/a"
    if not interval:
        return f"{value:.4f}"
    return f"{value:.4f} [{interval[0]:.4f}, {interval[1]:.4f}]"


def _lift(comparison: dict[str, Any]) -> str:
    lift = comparison.get("test_lift")
    if lift is None:
        return "n/a"
    low, high = comparison.get("test_lift_interval") or (lift, lift)
    return f"{lift:+.4f} [{low:+.4f}, {high:+.4f}]"


def render(results: list[dict[str, Any]]) -> str:
    """The benchmark's markdown table."""
    rows = []
    for r in results:
        best, baseline, comparison = r["best"], r["baseline"] or {}, r["comparison"]
        same = best.get("trial_number") == baseline.get("trial_number")
        leader = comparison.get("leader") or {}
        winning = f"{best['loss']} ({best['family']})"
        if same and leader and leader.get("trial_number") != best.get("trial_number"):
            # The validation gate turned the leader down: say who it was.
            winning += f"; leader {leader['loss']} not reliably better on validation"
        rows.append(
            [
                r["case"],
                r["task"],
                r["metric"],
                _with_interval(baseline.get("test"), baseline.get("test_interval")),
                _with_interval(best["test"], best["test_interval"]),
                _lift(comparison),
                f"{comparison.get('probability_better', float('nan')):.2f}",
                winning,
                verdict(comparison, same),
                *_references(r),
                f"{r['seconds']:.0f}",
            ]
        )
    headers = [
        "dataset",
        "task",
        "metric",
        "baseline test [95% CI]",
        "winner test [95% CI]",
        "lift, + = better [95% CI]",
        "P(better)",
        "winning loss",
        "verdict",
        *REFERENCE_HEADERS,
        "wall s",
    ]
    return table(headers, rows)


REFERENCE_HEADERS = ("logistic / ridge test", "HistGB test")


def _references(result: dict[str, Any]) -> list[str]:
    references = result.get("references") or {}
    return [
        "n/a" if references.get(name) is None else f"{references[name]:.4f}"
        for name in ("linear", "hist_gb")
    ]


def render_references(results: list[dict[str, Any]]) -> str:
    """The reference columns alone (``--references-only``)."""
    rows = [[r["case"], r["task"], r["metric"], *_references(r)] for r in results]
    return table(["dataset", "task", "metric", *REFERENCE_HEADERS], rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=60, help="trial budget of every job")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="jobs run side by side")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job")
    parser.add_argument(
        "--only", default="", help="comma-separated dataset names (--synthetic: task names)"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--references-only", action="store_true", help="skip the searches: reference columns"
    )
    parser.add_argument(
        "--folds",
        type=int,
        help="--synthetic: the gate's folds (default: the spec's; 0 = validation-only gate)",
    )
    parser.add_argument(
        "--seeds-per-fold", type=int, help="--synthetic: seeds per fold (default: the spec's)"
    )
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="the gate's calibration on bench.synthetic_tasks at the default budget",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=20,
        help="--synthetic: seeds per null task (planted tasks get half)",
    )
    args = parser.parse_args()
    if args.synthetic:
        _synthetic(args)
        return

    wanted = set(filter(None, args.only.split(",")))
    unknown = wanted - {case.name for case in CASES}
    if unknown:
        parser.error(f"unknown datasets: {', '.join(sorted(unknown))}")
    cases = [case for case in CASES if not wanted or case.name in wanted]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(
                run_case, case, args.trials, args.seed, args.threads, not args.references_only
            )
            for case in cases
        ]
        results = []
        for future in futures:
            results.append(future.result())
            if not args.references_only:
                done = results[-1]
                print(f"done: {done['case']} in {done['seconds']:.0f} s", file=sys.stderr)
    if args.references_only:
        print(f"Machine: {machine()}; seed {args.seed}\n")
        print(render_references(results))
        return
    print(f"Machine: {machine()}")
    print(
        f"Budget: {args.trials} trials per job, all loss families, default confirmation "
        f"(top 3 + baseline on 5 fresh seeds, 500 paired bootstrap resamples), seed {args.seed}; "
        f"{args.jobs} job(s) side by side, {args.threads} torch thread(s) each; "
        f"total {time.perf_counter() - started:.0f} s\n"
    )
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


def _synthetic(args: argparse.Namespace) -> None:
    from bench.gate_calibration import render_calibration, run_calibration, summarise
    from bench.synthetic_tasks import TASKS
    from workers.engine.spec import Budget, Confirmation

    only = set(filter(None, args.only.split(",")))
    unknown = only - {task.name for task in TASKS}
    if unknown:
        sys.exit(f"unknown synthetic tasks: {', '.join(sorted(unknown))}")
    planted_seeds = max(1, args.seeds // 2)
    overrides = {
        key: value
        for key, value in (("folds", args.folds), ("seeds_per_fold", args.seeds_per_fold))
        if value is not None
    }
    results, seconds = run_calibration(
        args.seeds, planted_seeds, args.jobs, args.threads, only, overrides or None
    )
    # Read back from the spec rather than written out, so the line stays true if they change.
    budget, confirmation = Budget(), Confirmation.model_validate(overrides)
    gate = (
        f"gate cross-fitted over {confirmation.folds} folds x {confirmation.seeds_per_fold} seeds"
        if confirmation.folds
        else "gate on validation only"
    )
    print(f"Machine: {machine()}")
    print(
        f"Budget: JobSpec defaults ({budget.n_trials} trials, all families, top "
        f"{confirmation.top_k} + baseline on {confirmation.seeds} fresh seeds, {gate}); "
        f"seeds 0-{args.seeds - 1} per null task, 0-{planted_seeds - 1} per planted task; "
        f"{args.jobs} job(s) side by side, {args.threads} torch thread(s) each; "
        f"total {seconds:.0f} s\n"
    )
    print(render_calibration(summarise(results)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
