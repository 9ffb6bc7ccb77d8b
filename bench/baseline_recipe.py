"""The plain-loss baseline under training-recipe variants, on the public quality datasets.

    python -m bench.baseline_recipe [--variants no_drop,drop,two_drops,weight_decay_1e-2]
                                    [--seeds 0,1,2] [--trials 10] [--only concrete,yeast4]

Each job runs the service's own search restricted to the task's plain loss (its learning-rate
sweep and the sampler's further rates, thresholds tuned on validation, the best setup confirmed
on 5 seeds) and reports the test metric of the returned baseline. A variant changes the
training plan's constants in the job's own process (one process per job, so variants never
mix). The table puts the variants side by side per dataset and seed, then counts, per variant,
the jobs where it is better or worse on test than the first variant.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import BENCH_DATASETS, machine, table
from bench.quality import CASES, Case, timed_search


@dataclass(frozen=True)
class Recipe:
    """The training-plan constants a variant sets."""

    learning_rate_drops: int = 1
    weight_decay: float = 1e-4


VARIANTS: dict[str, Recipe] = {
    "no_drop": Recipe(learning_rate_drops=0),
    "drop": Recipe(),
    "two_drops": Recipe(learning_rate_drops=2),
    "weight_decay_1e-2": Recipe(weight_decay=1e-2),
}
LOWER_IS_BETTER = {"mae", "mape", "rmse", "log_loss"}


def run_job(case: Case, variant: str, seed: int, trials: int) -> dict[str, Any]:
    """One baseline-only job under ``variant``; its returned setup's figures."""
    import dataclasses

    import optuna
    import torch

    import workers.engine.training_plan as training_plan
    from workers.engine.datasets import expand_target, read_columns, resolve_reference
    from workers.engine.losses import baseline_loss
    from workers.engine.spec import Budget, Confirmation, JobSpec, MetricRef, Task

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    recipe = VARIANTS[variant]
    plan_training = training_plan.plan_training

    def with_recipe(n_train: int) -> training_plan.TrainingPlan:
        return dataclasses.replace(plan_training(n_train), **dataclasses.asdict(recipe))

    # Engine modules import plan_training by name: rebind it wherever it was imported.
    for module in list(sys.modules.values()):
        if getattr(module, "plan_training", None) is plan_training:
            module.plan_training = with_recipe  # type: ignore[attr-defined]
    roots = [Path(BENCH_DATASETS)]
    target = expand_target(read_columns(resolve_reference(case.file, roots)), case.target)
    task = Task(case.task)
    spec = JobSpec(
        dataset=case.file,
        target=list(target),
        task=task,
        metric=MetricRef(name=case.metric, params=dict(case.metric_params)),
        budget=Budget(n_trials=trials),
        losses=[baseline_loss(task).name],
        seed=seed,
        confirmation=Confirmation(top_k=1),
    )
    result, seconds = timed_search(spec, case.name, roots)
    best = result.best
    return {
        "case": case.name,
        "metric": case.metric,
        "variant": variant,
        "seed": seed,
        "validation": best.validation,
        "test": best.test,
        "learning_rate": best.training.learning_rate,
        "weight_decay": best.training.weight_decay,
        "learning_rate_drops": best.training.learning_rate_drops,
        "epochs": best.training.epochs,
        "max_epochs": best.training.max_epochs,
        "seconds": seconds,
    }


def _job(args: tuple[Case, str, int, int]) -> dict[str, Any]:
    return run_job(*args)


def gain(result: dict[str, Any], reference: dict[str, Any]) -> float:
    """Test improvement of ``result`` over ``reference``, signed so that + is better."""
    difference = float(result["test"]) - float(reference["test"])
    return -difference if result["metric"] in LOWER_IS_BETTER else difference


def render(results: list[dict[str, Any]], variants: list[str]) -> str:
    """The side-by-side table, then the better/worse counts against the first variant."""
    by_job: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for result in results:
        by_job.setdefault((result["case"], result["seed"]), {})[result["variant"]] = result
    rows = []
    for (case, seed), found in by_job.items():
        cells = [
            f"{found[v]['test']:.4f} (epoch {found[v]['epochs']})" if v in found else "–"
            for v in variants
        ]
        rows.append([case, seed, *cells])
    sections = [table(["dataset", "seed", *(f"{v}: test" for v in variants)], rows)]
    reference, counts = variants[0], []
    for variant in variants[1:]:
        pairs = [
            (found[variant], found[reference])
            for found in by_job.values()
            if variant in found and reference in found
        ]
        gains = [gain(mine, theirs) for mine, theirs in pairs]
        relative = [
            gain(mine, theirs) / abs(float(theirs["test"]))
            for mine, theirs in pairs
            if abs(float(theirs["test"])) > 0.05
        ]
        counts.append(
            [
                variant,
                sum(g > 1e-9 for g in gains),
                sum(g < -1e-9 for g in gains),
                sum(abs(g) <= 1e-9 for g in gains),
                f"{statistics.median(relative):+.4f}" if relative else "–",
                f"{sum(float(m['seconds']) for m, _ in pairs):.0f}",
            ]
        )
    headers = [f"against {reference}", "better", "worse", "same", "median relative gain", "wall s"]
    sections.append(table(headers, counts))
    return "\n\n".join(sections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", help="comma-separated dataset names")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    variants = args.variants.split(",")
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    cases = [c for c in CASES if not args.only or c.name in args.only.split(",")]
    jobs = [
        (case, variant, int(seed), args.trials)
        for seed in args.seeds.split(",")
        for case in cases
        for variant in variants
    ]
    # One process per job: a variant's constants must not leak into the next job.
    with ProcessPoolExecutor(args.jobs, max_tasks_per_child=1) as pool:
        results = list(pool.map(_job, jobs))
    print(f"Machine: {machine()}; {args.trials} trials per job, plain loss only\n")
    print(render(results, variants))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
