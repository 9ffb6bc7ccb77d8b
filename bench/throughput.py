"""Trials per minute: the plain Optuna loop, our engine one trial at a time, and populations.

    python -m bench.throughput [--trials 100] [--population 32] [--jobs page_blocks0,satimage]
    python -m bench.throughput --modes one,populations  # only the engine, as before the anchor
    python -m bench.throughput --dataset page_blocks0.csv.gz --task binary --metric f1  # one job

For each job, three modes run the same search budget on the same data, each in its own process
(so its peak memory is its own):

- ``plain``: the loop every peer runs, ``study.optimize`` around a plain PyTorch training loop
  (:mod:`bench.plain_optuna`: same split, network shape, training plan, AdamW, pruner and
  validation-tuned threshold; its own small space of losses, learning rate and weight decay);
- ``one at a time``: our engine with a population of one;
- ``populations of P``: our engine with populations of ``--population``.

The engine modes run the real engine: Optuna with SQLite storage (the workers' storage class),
pruning, early stopping, threshold tuning, then finalization (confirmation of the finalists and
the baseline on fresh seeds, test scoring). Trials per minute count the search phase only (data
preparation, study and trials), the part population training is for; finalization costs the
same in both engine modes and is shown apart. The plain loop has no finalization: its best test
is the test score of its validation-best trial.

Columns beyond the timings: writes (INSERT / UPDATE / DELETE statements), commits and all
statements the Optuna storage sent to the database during the search, per trial
(:mod:`bench.statements`); and the FLOP floor (:mod:`bench.flop_floor`): the trials' counted
matmul multiply-adds (from the epochs each trial actually trained) at the best matmul rate
measured on this machine, in this run, for the job's layer shapes and batch size, one model and
a stack of ``P``; "x floor" is the measured search time over the floor's. Prints one markdown
table per job.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch

from bench.common import BENCH_DATASETS, machine, peak_memory_mib, table
from bench.flop_floor import matmul_rate, search_macs
from bench.plain_optuna import prepared_data, run_plain
from bench.statements import count_statements, difference
from workers.engine.networks import network_shape
from workers.engine.search import Search
from workers.engine.search_context import SearchContext
from workers.engine.spec import Budget, Family, JobSpec, MetricRef, Parallelism, Task
from workers.engine.studies import make_storage
from workers.engine.training_plan import plan_training
from workers.storage import ResilientRDBStorage

PLAIN = "plain"
MODES = ("plain", "one", "populations")


@dataclass(frozen=True)
class Job:
    """A dataset with the task and metric it is searched for."""

    name: str
    dataset: str
    task: str
    metric: str


JOBS = {
    # Overhead-bound: 10 features, a 32-wide MLP; per-step and per-trial costs dominate.
    "page_blocks0": Job("page_blocks0", "page_blocks0.csv.gz", "binary", "f1"),
    # Compute-bound: 36 features, 6 classes, a 128-wide MLP; the arithmetic itself dominates.
    "satimage": Job("satimage", "satimage.csv.gz", "multiclass", "macro_f1"),
}


def run_mode(args: argparse.Namespace, population: int) -> dict[str, Any]:
    """One engine search with a fixed population size; returns its timing and results."""
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
        # The workers' storage class: its writes held back into few transactions.
        storage = make_storage(
            f"sqlite:///{Path(tmp) / 'bench.db'}", storage_class=ResilientRDBStorage
        )
        counts = count_statements(storage)
        context = SearchContext(
            storage=storage,
            study_name="bench",
            data_roots=[Path(BENCH_DATASETS)],
            device=device,
            max_population_size=population,
        )
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        before = counts.snapshot()
        started = time.perf_counter()
        search = Search.open(spec, context)
        stopped = search.run_trials()
        searched = time.perf_counter()
        written = difference(counts.snapshot(), before)
        assert not stopped
        epochs = [
            int(t.user_attrs["epochs_trained"])
            for t in search.study.get_trials(deepcopy=False)
            if "epochs_trained" in t.user_attrs
        ]
        result = search.finalize()
        finished = time.perf_counter()
        storage.engine.dispose()
    seconds, search_seconds = finished - started, searched - started
    best, baseline = result.best, result.baseline
    return {
        "mode": str(population),
        "population": population,
        "seconds": seconds,
        "search_seconds": search_seconds,
        "finalize_seconds": finished - searched,
        "trials_per_minute": args.trials / search_seconds * 60,
        "peak_memory_mib": peak_memory_mib(device),
        "best_loss": best.loss,
        "best_validation": best.validation,
        "best_test": best.test,
        "baseline_test": baseline.test if baseline else None,
        "trial_counts": result.trial_counts,
        "epochs_trained": epochs,
        "statements": written,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--jobs",
        default="page_blocks0",
        help=f"comma-separated jobs, of {sorted(JOBS)} (default page_blocks0); --dataset overrides",
    )
    parser.add_argument("--dataset", help="one job on this file instead of --jobs")
    parser.add_argument("--task", help="the --dataset job's task (default binary)")
    parser.add_argument("--metric", help="the --dataset job's metric (default f1)")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--population", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--losses", default="", help="comma-separated losses for the engine")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--modes", default=",".join(MODES), help=f"comma-separated, of {list(MODES)} (default: all)"
    )
    parser.add_argument("--json", help="also write every mode's raw results to this file")
    parser.add_argument("--mode", help=argparse.SUPPRESS)  # internal: run one mode of one job
    return parser.parse_args(argv)


def jobs_of(args: argparse.Namespace) -> list[Job]:
    if args.dataset:
        name = args.dataset.removesuffix(".gz").removesuffix(".csv")
        return [Job(name, args.dataset, args.task or "binary", args.metric or "f1")]
    unknown = [name for name in args.jobs.split(",") if name not in JOBS]
    if unknown:
        raise SystemExit(f"unknown job(s) {unknown}; known: {sorted(JOBS)}")
    return [JOBS[name] for name in args.jobs.split(",")]


def mode_names(args: argparse.Namespace) -> list[str]:
    """The modes to run, as ``--mode`` values: ``plain`` and population sizes."""
    chosen = args.modes.split(",")
    unknown = set(chosen) - set(MODES)
    if unknown:
        raise SystemExit(f"unknown mode(s) {sorted(unknown)}; known: {list(MODES)}")
    sizes = {"plain": PLAIN, "one": "1", "populations": str(args.population)}
    return [sizes[mode] for mode in MODES if mode in chosen]


def run_in_process(job: Job, args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """One mode of one job in a fresh process; its results."""
    command = [
        sys.executable,
        "-m",
        "bench.throughput",
        *("--dataset", job.dataset, "--task", job.task, "--metric", job.metric),
        *("--trials", str(args.trials), "--seed", str(args.seed)),
        *("--threads", str(args.threads), "--device", args.device),
        *(("--losses", args.losses) if args.losses else ()),
        *("--mode", mode),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def measure_rates(job: Job, args: argparse.Namespace) -> dict[str, Any]:
    """The job's shapes and the matmul rates measured for them here, one model and ``P``."""
    torch.set_num_threads(args.threads)
    data = prepared_data(job.dataset, job.task, args.seed)
    shape = network_shape(data.n_features, data.n_outputs)
    plan = plan_training(len(data.train))
    device = torch.device(args.device)
    one = matmul_rate(shape, plan.batch_size, 1, device)
    stacked = matmul_rate(shape, plan.batch_size, max(args.population, 1), device)
    return {
        "widths": list(shape.widths),
        "batch_size": plan.batch_size,
        "eval_every": plan.eval_every,
        "max_epochs": plan.max_epochs,
        "n_train": len(data.train),
        "n_validation": len(data.validation),
        "rate_one": one,
        "rate_stacked": stacked,
    }


def _label(mode: str) -> str:
    if mode == PLAIN:
        return "plain Optuna + PyTorch"
    return "one at a time" if mode == "1" else f"populations of {mode}"


def job_table(results: list[dict[str, Any]], shapes: dict[str, Any], trials: int) -> str:
    """One job's markdown table: a row per mode."""
    rate = max(shapes["rate_one"], shapes["rate_stacked"])
    by_mode = {r["mode"]: r for r in results}
    one = by_mode.get("1")
    plain = by_mode.get(PLAIN)
    widths = shapes["widths"]
    shape = network_shape(widths[0], widths[-1])
    rows = []
    for r in results:
        macs = search_macs(
            shape,
            shapes["n_train"],
            shapes["n_validation"],
            r["epochs_trained"],
            shapes["eval_every"],
        )
        floor_s = macs / rate
        tpm = r["trials_per_minute"]
        statements = r["statements"]
        rows.append(
            [
                _label(r["mode"]),
                trials,
                r["search_seconds"],
                tpm,
                tpm / one["trials_per_minute"] if one else "",
                tpm / plain["trials_per_minute"] if plain else "",
                sum(r["epochs_trained"]) / max(len(r["epochs_trained"]), 1),
                floor_s,
                trials / floor_s * 60 if floor_s > 0 else "",
                r["search_seconds"] / floor_s if floor_s > 0 else "",
                statements["writes"] / trials,
                statements["commits"] / trials,
                statements["statements"] / trials,
                r["finalize_seconds"] if r["finalize_seconds"] is not None else "",
                r["peak_memory_mib"],
                r["best_loss"],
                r["best_validation"],
                r["best_test"],
            ]
        )
    headers = [
        "mode",
        "trials",
        "search s",
        "trials/min",
        "x one at a time",
        "x plain",
        "epochs/trial",
        "floor s",
        "floor trials/min",
        "x floor",
        "writes/trial",
        "commits/trial",
        "statements/trial",
        "finalize s",
        "peak memory MiB",
        "best loss",
        "best validation",
        "best test",
    ]
    return table(headers, rows)


def run_job(job: Job, args: argparse.Namespace) -> dict[str, Any]:
    """Every chosen mode of one job, each in its own process, then this machine's matmul rates
    for the job's shapes (measured after the modes, in this process)."""
    results = [run_in_process(job, args, mode) for mode in mode_names(args)]
    return {"job": job.__dict__, "results": results, "shapes": measure_rates(job, args)}


def report(job: dict[str, Any], args: argparse.Namespace) -> str:
    spec, shapes, results = job["job"], job["shapes"], job["results"]
    lines = [
        f"### {spec['name']}",
        "",
        f"Job: {spec['dataset']} ({spec['task']}), metric {spec['metric']}, {args.trials} "
        f"trials, seed {args.seed}, engine losses: {args.losses or 'the default space'}; "
        f"MLP {shapes['widths']}, batch {shapes['batch_size']}, at most "
        f"{shapes['max_epochs']} epochs of {shapes['n_train']} rows",
        f"Matmul rate (forward + backward layer matmuls): one model "
        f"{shapes['rate_one'] / 1e9:.3g} GMAC/s, {args.population} stacked "
        f"{shapes['rate_stacked'] / 1e9:.3g} GMAC/s; the floor uses the faster",
        "",
        job_table(results, shapes, args.trials),
        "",
    ]
    lines += [f"{_label(r['mode'])}: trial states {r['trial_counts']}" for r in results]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.mode is not None:
        if args.mode == PLAIN:
            trials, seed = args.trials, args.seed
            task, metric = args.task or "binary", args.metric or "f1"
            result = run_plain(args.dataset, task, metric, trials, seed, args.threads, args.device)
        else:
            args.task, args.metric = args.task or "binary", args.metric or "f1"
            result = run_mode(args, int(args.mode))
        print(json.dumps(result))
        return

    print(f"Machine: {machine()}; device {args.device}, {args.threads} torch thread(s)\n")
    done = []
    for job in jobs_of(args):
        done.append(run_job(job, args))
        print(report(done[-1], args), end="\n\n", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(done, indent=1))


if __name__ == "__main__":
    main()
