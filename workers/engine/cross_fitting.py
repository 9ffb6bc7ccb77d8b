"""Cross-fitting for the gate: the leader against the baseline on every training row.

One validation split of a few hundred rows gives the gate little power: a real lift of +0.01 in F1
is rarely told from zero there. Cross-fitting scores the two setups on the *training* rows as
well, without letting a model see the rows it is scored on. The training rows are cut into
``folds`` folds (stratified by class where the task allows). For each fold, both setups are
trained on the other folds' rows, on the same ``seeds_per_fold`` seeds (common random numbers:
the paired difference then carries less training noise), with epochs and thresholds chosen on the
validation split exactly as in the search; the models then predict the fold's rows. Pooled over
the folds, every training row has an out-of-fold prediction from each setup, and the paired
bootstrap compares the setups over those rows.

Why the training rows only, and the validation split as every fold's tuning set: the validation
rows chose the finalists (and every trial's epochs and thresholds), so out-of-fold predictions on
them would carry that selection's optimism into the gate. The training rows chose nothing, so a
lift measured on them is free of it; they are three times as many as the validation rows under
the default split. The test split is not touched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import KFold, StratifiedKFold

from workers.engine.evaluation import Evaluator, Threshold
from workers.engine.losses import get_loss
from workers.engine.population import MemberConfig
from workers.engine.spec import Task
from workers.engine.statistics import PairedComparison, paired_bootstrap
from workers.engine.training import DeviceData, Outcome, predict, train_population
from workers.engine.training_plan import TrainingPlan

# Fewer training rows than this per fold and the fold's models say little: no cross-fitting.
MIN_FOLD_ROWS = 10


@dataclass(frozen=True)
class CrossFitPlan:
    """How the gate cross-fits: ``folds`` folds of the training rows, each setup trained on
    ``seeds_per_fold`` seeds per fold. ``folds == 0`` turns cross-fitting off (the gate then
    compares the confirmation runs on the validation split)."""

    folds: int = 5
    seeds_per_fold: int = 5


@dataclass(frozen=True)
class OutOfFold:
    """One setup's pooled out-of-fold metric inputs, one array per seed that completed in every
    fold, aligned with :attr:`CrossFit.rows`."""

    inputs: list[np.ndarray]
    failed_runs: int


@dataclass(frozen=True)
class CrossFit:
    """The pooled out-of-fold predictions of several setups on the training rows."""

    rows: np.ndarray  # training-row positions, in pooled order
    y_true: np.ndarray  # what the metric compares against (Evaluator.truth), in the same order
    folds: int
    seeds_per_fold: int
    arms: list[OutOfFold]


def fold_rows(task: Task, y_train: np.ndarray, folds: int, seed: int) -> list[np.ndarray] | None:
    """The training-row positions held out by each fold, or None when the rows are too few.

    Classes are stratified (binary, multiclass) so every fold's training part sees every class;
    the number of folds shrinks to the smallest class's count when that is smaller, and no fold
    is cut when fewer than two would remain.
    """
    n_rows = len(y_train)
    strata = y_train.astype(np.int64) if task in (Task.BINARY, Task.MULTICLASS) else None
    if strata is not None:
        folds = min(folds, _smallest_class(strata))
    folds = min(folds, n_rows // MIN_FOLD_ROWS)
    if folds < 2:
        return None
    splitter = (
        StratifiedKFold(folds, shuffle=True, random_state=seed)
        if strata is not None
        else KFold(folds, shuffle=True, random_state=seed)
    )
    labels = strata if strata is not None else np.zeros(n_rows)
    return [np.asarray(held_out) for _, held_out in splitter.split(np.zeros(n_rows), labels)]


def _smallest_class(strata: np.ndarray) -> int:
    counts = np.bincount(strata)
    present = counts[counts > 0]
    return int(present.min()) if len(present) else 0


def fold_seeds(job_seed: int, fold: int, count: int) -> list[int]:
    """Seeds for one fold's runs, shared by every setup; apart from the search's and the
    confirmation's seeds (a separate key)."""
    state = np.random.SeedSequence([job_seed, 0xF01D, fold]).generate_state(count)
    return [int(s) for s in state]


def fold_training_rows(n_train: int, held_outs: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Each fold's training rows (every row it does not hold out), cut to one common count.

    The folds' members train together as one population, taking their batches in lockstep, so
    each sees the same number of rows per epoch; stratified folds differ in size by a row or two
    per class, and those few surplus rows (drawn with the seed) sit the fold out.
    """
    rng = np.random.default_rng([seed, 0xF01D])
    parts = [np.setdiff1d(np.arange(n_train), held_out) for held_out in held_outs]
    size = min(len(part) for part in parts)
    return [np.sort(rng.choice(part, size, replace=False)) for part in parts]


def cross_fit(
    setups: Sequence[MemberConfig],
    evaluator: Evaluator,
    device_data: DeviceData,
    plan: TrainingPlan,
    fit_plan: CrossFitPlan,
    job_seed: int,
) -> CrossFit | None:
    """Train every setup on every fold and seed; pool each one's out-of-fold metric inputs.

    Every fold's runs train together in one population (each member on its fold's rows), with
    epochs, thresholds, class offsets and temperatures chosen on the validation split as in the
    search. Losses that weigh classes by their counts use the whole training split's counts: a
    fold holds the same class shares, up to a row. None when the training rows are too few to
    cut into folds. A seed's pooled run counts for a setup only if it completed in every fold (a
    run that diverged leaves its fold's rows without a prediction).
    """
    data = device_data.data
    held_outs = fold_rows(data.task, data.train.y_true, fit_plan.folds, job_seed)
    if held_outs is None:
        return None
    seeds = fit_plan.seeds_per_fold
    trained = fold_training_rows(len(data.train), held_outs, job_seed)
    members = [
        dataclasses.replace(setup, seed=seed, rows=tuple(int(r) for r in trained[fold]))
        for fold in range(len(held_outs))
        for setup in setups
        for seed in fold_seeds(job_seed, fold, seeds)
    ]
    results = iter(train_population(members, device_data, evaluator, plan, keep_states=True))
    # pieces[arm][seed] collects one array per fold, or None once a fold's run failed.
    pieces: list[list[list[np.ndarray] | None]] = [[[] for _ in range(seeds)] for _ in setups]
    for held_out in held_outs:
        inputs = device_data.x_train[torch.as_tensor(held_out, device=device_data.device)]
        for arm, setup in enumerate(setups):
            link = get_loss(setup.loss).link
            for run in range(seeds):
                result = next(results)
                collected = pieces[arm][run]
                if collected is None:
                    continue
                if result.outcome is Outcome.FAILED or result.state is None:
                    pieces[arm][run] = None
                    continue
                score = result.score
                threshold: Threshold | None = score.threshold if score else None
                temperature = score.temperature if score else None
                outputs = predict(result.state, inputs)
                collected.append(evaluator.metric_input(outputs, threshold, link, temperature))
                result.state = None
    rows = np.concatenate(held_outs)
    arms = [
        OutOfFold(
            inputs=[np.concatenate(p) for p in per_seed if p is not None],
            failed_runs=sum(p is None for p in per_seed),
        )
        for per_seed in pieces
    ]
    return CrossFit(rows, evaluator.truth(data.train)[rows], len(held_outs), seeds, arms)


def compare_out_of_fold(
    crossed: CrossFit,
    first: int,
    second: int,
    evaluator: Evaluator,
    resamples: int,
    seed: int,
) -> PairedComparison | None:
    """The paired bootstrap of two setups over the pooled out-of-fold rows (``first`` minus
    ``second``, positive is better); None when either has no complete run."""
    ours, theirs = crossed.arms[first], crossed.arms[second]
    if not ours.inputs or not theirs.inputs:
        return None

    def scorers(arm: OutOfFold) -> list[Callable[[np.ndarray], float]]:
        return [evaluator.inputs_scorer(crossed.y_true, inputs) for inputs in arm.inputs]

    return paired_bootstrap(
        scorers(ours),
        scorers(theirs),
        len(crossed.rows),
        evaluator.metric.greater_is_better,
        resamples,
        seed=seed,
    )
