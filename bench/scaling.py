"""One job on one worker versus two: trials per minute and the ratio.

    python -m bench.scaling [--trials 64] [--population 8] [--dataset page_blocks0.csv.gz]

Each worker is a separate process running the service's real shard code
(:func:`workers.jobs.run_shard`): shard leases, the shared trial-budget ledger and the single
finalizer, on a SQLite database, with one torch thread per process. The broker is left out (it
only delivers the job id), so the figures are the search's own.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BENCH_DATASETS, machine, table
from service.db import jobs as jobs_repo
from service.db.migrate import upgrade_database
from service.db.session import session_scope
from service.settings import Settings
from workers.engine.spec import Budget, Family, JobSpec, MetricRef, Parallelism, Task


def settings_for(state: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=state,
        database_url=None,
        broker_url=None,
        data_roots=[Path(BENCH_DATASETS)],
        torch_threads=1,
    )


def run_job(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    """Create the job with one shard per worker, run the shards in parallel, time it."""
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        settings = settings_for(state)
        upgrade_database(settings.resolved_database_url)
        spec = JobSpec(
            dataset=args.dataset,
            task=Task(args.task),
            metric=MetricRef(name=args.metric),
            budget=Budget(n_trials=args.trials),
            families=list(Family),
            seed=args.seed,
            parallelism=Parallelism(population_size=args.population, shards=workers),
        )
        with session_scope(settings.resolved_database_url) as session:
            created, _ = jobs_repo.create_job(session=session, spec=spec)
            job_id = created.id
        started = time.perf_counter()
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.scaling", "--shard", job_id, str(shard), str(state)]
            )
            for shard in range(workers)
        ]
        for process in processes:
            if process.wait() != 0:
                raise RuntimeError(f"shard process exited with {process.returncode}")
        seconds = time.perf_counter() - started
        with session_scope(settings.resolved_database_url) as session:
            row = jobs_repo.get_job(session=session, job_id=job_id)
            assert row is not None
            if row.status != "succeeded":
                raise RuntimeError(f"job ended {row.status}: {row.error}")
            assert row.result is not None
            best = row.result["best"]
            counts = row.result["trial_counts"]
    return {
        "seconds": seconds,
        "best_validation": best["validation"],
        "best_test": best["test"],
        "pruned": counts.get("pruned", 0),
    }


def run_one_shard(job_id: str, shard: int, state: Path) -> None:
    import torch

    from workers.jobs import run_shard

    torch.set_num_threads(1)
    run_shard(job_id, shard, settings_for(state))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dataset", default="page_blocks0.csv.gz")
    parser.add_argument("--task", default="binary")
    parser.add_argument("--metric", default="f1")
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard", nargs=3, help=argparse.SUPPRESS)  # internal: run one shard
    args = parser.parse_args()
    if args.shard:
        job_id, shard, state = args.shard
        run_one_shard(job_id, int(shard), Path(state))
        return

    results = {workers: run_job(args, workers) for workers in (1, 2)}
    one = args.trials / results[1]["seconds"] * 60
    rows = [
        [
            workers,
            args.trials,
            r["seconds"],
            args.trials / r["seconds"] * 60,
            (args.trials / r["seconds"] * 60) / one,
            r["pruned"],
            r["best_validation"],
            r["best_test"],
        ]
        for workers, r in results.items()
    ]
    print(f"Machine: {machine()}; 1 torch thread per worker process")
    print(
        f"Job: {args.dataset} ({args.task}), metric {args.metric}, {args.trials} trials, "
        f"populations of {args.population}, seed {args.seed}\n"
    )
    print(
        table(
            [
                "workers",
                "trials",
                "wall s",
                "trials/min",
                "ratio",
                "pruned",
                "best validation",
                "best test",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
