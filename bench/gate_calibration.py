"""The gate's calibration on synthetic tasks: ``python -m bench.quality --synthetic``.

Runs the service's own search (``workers.engine.search.run_search`` after ``plan_search``, as a
job posted with only a dataset and a metric would run: JobSpec's default budget of 30 trials,
every loss family, confirmation of the top 3 and the baseline on 5 fresh seeds) on every task of
:mod:`bench.synthetic_tasks` for many seeds, and counts what it returned:

- ``keep``: the baseline trial itself (the answer "keep the plain loss");
- ``other``: any other setup;
- ``planted kind`` (planted tasks): a loss of the kind the data was built to favour;
- ``leader planted`` (planted tasks): the leader before the gate was of that kind, which tells a
  search that missed the loss from a gate that turned it down.

Targets: at least 95% ``keep`` on null tasks, at least 80% ``planted kind`` on planted ones.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench.common import table
from bench.synthetic_tasks import TASKS, SyntheticTask

NULL_TARGET = 0.95
PLANTED_TARGET = 0.80


def task_named(name: str) -> SyntheticTask:
    """The synthetic task called ``name``; ``KeyError`` if there is none."""
    for task in TASKS:
        if task.name == name:
            return task
    raise KeyError(name)


def run_synthetic(
    name: str, seed: int, threads: int, confirmation: dict[str, int] | None = None
) -> dict[str, Any]:
    """One job of the service's default budget on seed ``seed`` of task ``name``
    (``confirmation`` overrides fields of the default confirmation, e.g. the gate's folds)."""
    import optuna
    import torch

    from workers.engine.datasets import FrameReference
    from workers.engine.planning import plan_search
    from workers.engine.search import run_search
    from workers.engine.search_context import SearchContext
    from workers.engine.spec import JobSpec

    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = task_named(name)
    data = task.generate(seed)
    frame = FrameReference(data.frame, label=f"{name}-{seed}")
    test = None if data.test is None else FrameReference(data.test, label=f"{name}-{seed}-test")
    # Only what a caller must say; every other field keeps JobSpec's default, so a change of
    # the defaults (budget, confirmation) shows up here as it would for a user.
    spec = JobSpec.model_validate(
        {
            "dataset": f"dataframe:{frame.label}",
            "test_dataset": None if test is None else f"dataframe:{test.label}",
            "task": task.task,
            "metric": task.metric,
            "seed": seed,
            **({"confirmation": confirmation} if confirmation else {}),
        }
    )
    spec = plan_search(spec, data=frame, test_data=test)
    context = SearchContext(
        storage=optuna.storages.InMemoryStorage(),
        study_name=f"synthetic-{name}-{seed}",
        data_roots=[],
        exclusive=True,
        data=frame,
        test_data=test,
    )
    started = time.perf_counter()
    outcome = run_search(spec, context)
    seconds = time.perf_counter() - started
    assert outcome.result is not None, f"{name} seed {seed}: the search was stopped"
    result = outcome.result
    baseline = result.baseline
    comparison = result.comparison
    leader = comparison.leader
    return {
        "task": name,
        "kind": task.kind,
        "metric": task.metric,
        "seed": seed,
        "seconds": seconds,
        "budget": {"n_trials": spec.budget.n_trials, **spec.confirmation.model_dump()},
        "loss": result.best.loss,
        "family": result.best.family,
        "kept": baseline is not None and result.best.trial_number == baseline.trial_number,
        "baseline_loss": None if baseline is None else baseline.loss,
        "leader": None if leader is None else leader.loss,
        "validation_lift": comparison.validation_lift,
        "validation_lift_interval": comparison.validation_lift_interval,
        "gate": None if comparison.gate is None else comparison.gate.model_dump(mode="json"),
        "test_lift": comparison.test_lift,
        "test_lift_interval": comparison.test_lift_interval,
    }


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task: the shares the table shows, and whether the target is met."""
    rows = []
    for task in TASKS:
        runs = [r for r in results if r["task"] == task.name]
        if not runs:
            continue
        n = len(runs)
        kept = sum(r["kept"] for r in runs) / n
        row: dict[str, Any] = {
            "task": task.name,
            "kind": task.kind,
            "metric": task.metric,
            "seeds": n,
            "keep": kept,
            "other": 1.0 - kept,
            # Another setup of the plain loss (say, a better learning rate) is still "the plain
            # loss": only a different loss is a claim that the plain loss is the wrong one.
            "other_loss": sum(r["loss"] != r.get("baseline_loss") for r in runs) / n,
            "planted": None,
            "leader_planted": None,
            "mean_seconds": sum(r["seconds"] for r in runs) / n,
        }
        if task.kind == "null":
            row["target"] = f"keep >= {NULL_TARGET:.0%}"
            row["passed"] = kept >= NULL_TARGET
        else:
            found = sum((not r["kept"]) and r["loss"] in task.planted for r in runs) / n
            row["planted"] = found
            row["leader_planted"] = sum(r["leader"] in task.planted for r in runs) / n
            row["target"] = f"{task.planted_kind} >= {PLANTED_TARGET:.0%}"
            row["passed"] = found >= PLANTED_TARGET
        rows.append(row)
    return rows


def render_calibration(summary: list[dict[str, Any]]) -> str:
    """The calibration table, markdown."""

    def share(value: float | None) -> str:
        return "–" if value is None else f"{value:.0%}"

    rows = [
        [
            s["task"],
            s["kind"],
            s["metric"],
            s["seeds"],
            share(s["keep"]),
            share(s["other"]),
            share(s["other_loss"]),
            share(s["planted"]),
            share(s["leader_planted"]),
            s["target"],
            "pass" if s["passed"] else "FAIL",
            f"{s['mean_seconds']:.0f}",
        ]
        for s in summary
    ]
    headers = [
        "task",
        "kind",
        "metric",
        "seeds",
        "keep baseline",
        "other setup",
        "other loss",
        "planted kind returned",
        "leader of planted kind (before gate)",
        "target",
        "result",
        "mean s/job",
    ]
    return table(headers, rows)


def run_calibration(
    null_seeds: int,
    planted_seeds: int,
    jobs: int,
    threads: int,
    only: set[str],
    confirmation: dict[str, int] | None = None,
) -> tuple[list[dict[str, Any]], float]:
    """Every (task, seed) job, ``jobs`` at a time; the raw results and the wall time in s."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    tasks = [task for task in TASKS if not only or task.name in only]
    # Planted tasks first: their jobs are the slowest, and starting them early keeps both
    # workers busy until the end.
    tasks.sort(key=lambda task: task.kind != "planted")
    work = [
        (task.name, seed)
        for task in tasks
        for seed in range(planted_seeds if task.kind == "planted" else null_seeds)
    ]
    started = time.perf_counter()
    results = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [
            pool.submit(run_synthetic, name, seed, threads, confirmation) for name, seed in work
        ]
        for future in as_completed(futures):
            done = future.result()
            results.append(done)
            answer = "keep" if done["kept"] else done["loss"]
            print(
                f"done {len(results)}/{len(work)}: {done['task']} seed {done['seed']} -> "
                f"{answer} ({done['seconds']:.0f} s)",
                file=sys.stderr,
            )
    results.sort(key=lambda r: (r["task"], r["seed"]))
    return results, time.perf_counter() - started
