"""Trials per minute: the same job run one trial at a time and as populations, side by side.

    python -m bench.throughput [--trials 100] [--population 32] [--dataset page_blocks0.csv.gz]

Each mode runs in its own process (so its peak memory is its own) through the real engine:
Optuna with SQLite storage, pruning, early stopping, threshold tuning, then finalization
(confirmation of the finalists and the baseline on fresh seeds, test scoring). Trials per
minute count the search phase only, the part population training is for; finalization costs
the same in both modes (it always trains its runs as one population) and is shown apart.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import torch

from bench.common import BENCH_DATASETS, machine, peak_rss_mib, table
from workers.engine.search import Search
from workers.engine.search_context import SearchContext
from workers.engine.spec import Budget, Family, JobSpec, MetricRef, Parallelism, Task
from workers.engine.studies import make_storage


def run_mode(args: argparse.Namespace, population: int) -> dict[str, object]:
    """One search with a fixed population size; returns its timing and results."""
    torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    device = torch.device(args.device)
    spec = JobSpec(
        dataset=args.dataset,
        task=Task(args.task),
        metric=MetricRef(name=args.metric),
        budget=Budget(n_trials=args.trials),
        families=list(Family),
        seed=args.seed,
        parallelism=Parallelism(population_size=population),
        losses=args.losses.split(",") if args.losses else None,
    )
    with tempfile.TemporaryDirectory() as tmp:
        storage = make_storage(f"sqlite:///{Path(tmp) / 'bench.db'}")
        context = SearchContext(
            storage=storage,
            study_name="bench",
            data_roots=[Path(BENCH_DATASETS)],
            device=device,
            max_population_size=population,
        )
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        search = Search.open(spec, context)
        stopped = search.run_trials()
        searched = time.perf_counter()
        assert not stopped
        result = search.finalize()
        finished = time.perf_counter()
    seconds, search_seconds = finished - started, searched - started
    best, baseline = result.best, result.baseline
    memory = (
        torch.cuda.max_memory_allocated() / 1024**2 if device.type == "cuda" else peak_rss_mib()
    )
    return {
        "population": population,
        "seconds": seconds,
        "search_seconds": search_seconds,
        "finalize_seconds": finished - searched,
        "trials_per_minute": args.trials / search_seconds * 60,
        "peak_memory_mib": memory,
        "best_loss": best.loss,
        "best_validation": best.validation,
        "best_test": best.test,
        "baseline_test": baseline.test if baseline else None,
        "trial_counts": result.trial_counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dataset", default="page_blocks0.csv.gz")
    parser.add_argument("--task", default="binary")
    parser.add_argument("--metric", default="f1")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--population", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--losses", default="", help="comma-separated losses (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--mode", type=int, help=argparse.SUPPRESS)  # internal: run one mode
    args = parser.parse_args()

    if args.mode is not None:
        print(json.dumps(run_mode(args, args.mode)))
        return

    results = []
    for population in (1, args.population):
        command = [
            sys.executable,
            "-m",
            "bench.throughput",
            *sys.argv[1:],
            "--mode",
            str(population),
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
    sequential = results[0]["trials_per_minute"]
    rows = [
        [
            "one at a time" if r["population"] == 1 else f"populations of {r['population']}",
            args.trials,
            r["search_seconds"],
            r["trials_per_minute"],
            r["trials_per_minute"] / sequential,
            r["finalize_seconds"],
            r["seconds"],
            r["peak_memory_mib"],
            r["best_loss"],
            r["best_validation"],
            r["best_test"],
            r["baseline_test"],
        ]
        for r in results
    ]
    print(f"Machine: {machine()}; device {args.device}, {args.threads} torch thread(s)")
    print(
        f"Job: {args.dataset} ({args.task}), metric {args.metric}, {args.trials} trials, "
        f"seed {args.seed}, losses: {args.losses or 'the default space'}\n"
    )
    print(
        table(
            [
                "mode",
                "trials",
                "search s",
                "trials/min",
                "ratio",
                "finalize s",
                "job s",
                "peak memory MiB",
                "best loss",
                "best validation",
                "best test",
                "baseline test",
            ],
            rows,
        )
    )
    for r in results:
        print(f"\n{r['population']}: trial states {r['trial_counts']}")


if __name__ == "__main__":
    main()
