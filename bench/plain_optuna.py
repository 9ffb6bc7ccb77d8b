"""The loop every peer runs: ``study.optimize`` around a plain PyTorch training loop.

The honest anchor for ``bench.throughput``: what a user of Optuna and PyTorch writes without our
engine, on the same job. Same data (our loading, split and preprocessing, so train, validation
and test are identical), same network shape (:func:`workers.engine.networks.network_shape`, as
an ``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU``), same training plan
(:func:`workers.engine.training_plan.plan_training`: batch size, epoch cap, evaluation cadence,
early-stopping patience in evaluations, one learning-rate drop x0.1 on a plateau of half the
patience), ``torch.optim.AdamW``, and the same scoring (our :class:`Evaluator`: the decision
threshold, or multiclass class offsets, tuned on validation at every evaluation and applied
unchanged to test). Optuna: ``create_study`` on SQLite (a plain URL, so Optuna's own defaults:
no WAL, no heartbeats), ``TPESampler(seed)``, the engine's ``MedianPruner(n_startup_trials=5,
n_warmup_steps=10)``, one ``trial.report`` + ``trial.should_prune`` per evaluation.

What it searches (a plain user tunes a few proxy and weighted losses, the learning rate and the
weight decay):

- ``loss``: ``cross_entropy`` (BCE for binary), ``weighted_cross_entropy`` (binary: positive
  weight negatives/positives; multiclass: inverse class frequency), ``focal`` with
  ``focal_gamma`` in [0.5, 5];
- ``learning_rate`` log-uniform in the engine's range (1e-4 to 3e-2);
- ``weight_decay`` log-uniform in [1e-6, 1e-2] (the engine fixes 1e-4).

A competent plain loop: the data are tensors made once, each epoch is a ``randperm`` sliced
into batches (no ``DataLoader``, whose per-row collation would make the anchor slower than it
needs to be). The best trial's test score is computed after the search, from the weights of
its best validation evaluation, outside the timed part.

    python -m bench.plain_optuna --trials 20 [--dataset page_blocks0.csv.gz --task binary]
                                 [--metric f1]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from optuna.study import StudyDirection
from torch import Tensor, nn
from torch.nn import functional

from bench.common import BENCH_DATASETS, peak_memory_mib
from bench.statements import count_statements, difference
from workers.engine.datasets import PreparedData, prepare_dataset, resolve_reference
from workers.engine.evaluation import DegenerateOutputs, Evaluator, Threshold
from workers.engine.metrics import check_metric_fits, get_metric
from workers.engine.networks import NetworkShape, network_shape
from workers.engine.overrides import LEARNING_RATE_RANGE
from workers.engine.search import trial_seed
from workers.engine.spec import MetricRef, Task
from workers.engine.training_plan import TrainingPlan, plan_training

LOSSES = ("cross_entropy", "weighted_cross_entropy", "focal")
FOCAL_GAMMA = (0.5, 5.0)
WEIGHT_DECAY = (1e-6, 1e-2)


def prepared_data(dataset: str, task: str, seed: int) -> PreparedData:
    """The job's data exactly as the engine prepares it (same seeded split, same features)."""
    reference = resolve_reference(dataset, [Path(BENCH_DATASETS)])
    return prepare_dataset(reference, ("target",), Task(task), seed)


def evaluator_for(metric: str, data: PreparedData) -> Evaluator:
    """The engine's evaluator for ``metric`` on ``data`` (thresholds tuned on validation)."""
    classified = data.task in (Task.BINARY, Task.MULTICLASS)
    params = check_metric_fits(
        MetricRef(name=metric), data.task, len(data.classes) if classified else None
    )
    return Evaluator(get_metric(metric), params, data)


def mlp(shape: NetworkShape) -> nn.Sequential:
    """The engine's MLP as a plain ``nn.Module``: Linear, ReLU, ..., Linear."""
    layers: list[nn.Module] = []
    widths = shape.widths
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(fan_in, fan_out))
        if index < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def loss_value(
    name: str, task: Task, logits: Tensor, targets: Tensor, weights: Tensor, gamma: float
) -> Tensor:
    """The batch's mean loss: (weighted) cross-entropy or focal, binary or multiclass."""
    if task is Task.BINARY:
        if name == "weighted_cross_entropy":
            return functional.binary_cross_entropy_with_logits(logits, targets, pos_weight=weights)
        if name == "focal":
            ce = functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
            p = torch.sigmoid(logits)
            p_true = p * targets + (1 - p) * (1 - targets)
            return (ce * (1 - p_true) ** gamma).mean()
        return functional.binary_cross_entropy_with_logits(logits, targets)
    if name == "weighted_cross_entropy":
        return functional.cross_entropy(logits, targets, weight=weights)
    if name == "focal":
        ce = functional.cross_entropy(logits, targets, reduction="none")
        return ((1 - torch.exp(-ce)) ** gamma * ce).mean()
    return functional.cross_entropy(logits, targets)


def class_weights(data: PreparedData) -> Tensor:
    """Binary: the positive weight negatives/positives; multiclass: inverse class frequency."""
    counts = np.asarray(data.train_class_counts, dtype=np.float64)
    if data.task is Task.BINARY:
        positives = float(np.sum(data.train.y))
        return torch.tensor((len(data.train) - positives) / max(positives, 1.0))
    weights = counts.sum() / (len(counts) * np.maximum(counts, 1.0))
    return torch.tensor(weights, dtype=torch.float32)


@dataclass
class _Best:
    """The study's best trial so far, with the weights of its best evaluation."""

    value: float | None = None
    number: int = -1
    threshold: Threshold | None = None
    state: dict[str, Tensor] = field(default_factory=dict)


class PlainObjective:
    """The objective a user hands to ``study.optimize``: train one MLP, return its best score."""

    def __init__(
        self,
        data: PreparedData,
        evaluator: Evaluator,
        plan: TrainingPlan,
        seed: int,
        device: torch.device | None = None,
    ) -> None:
        if data.task not in (Task.BINARY, Task.MULTICLASS):
            raise ValueError(f"the plain loop trains binary and multiclass tasks, not {data.task}")
        self.data, self.evaluator, self.plan, self.seed = data, evaluator, plan, seed
        self.device = device or torch.device("cpu")
        self.shape = network_shape(data.n_features, data.n_outputs)
        self.x_train = torch.as_tensor(data.train.X, device=self.device)
        target_dtype = torch.float32 if data.task is Task.BINARY else torch.long
        self.y_train = torch.as_tensor(data.train.y, dtype=target_dtype, device=self.device)
        self.x_validation = torch.as_tensor(data.validation.X, device=self.device)
        self.weights = class_weights(data).to(self.device)
        self.epochs_trained: dict[int, int] = {}
        self.best = _Best()

    def __call__(self, trial: optuna.Trial) -> float:
        loss = trial.suggest_categorical("loss", LOSSES)
        gamma = trial.suggest_float("focal_gamma", *FOCAL_GAMMA) if loss == "focal" else 0.0
        learning_rate = trial.suggest_float("learning_rate", *LEARNING_RATE_RANGE, log=True)
        weight_decay = trial.suggest_float("weight_decay", *WEIGHT_DECAY, log=True)
        seed = trial_seed(self.seed, trial.number)
        torch.manual_seed(seed)
        model = mlp(self.shape).to(self.device)
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=learning_rate, weight_decay=weight_decay
        )
        generator = torch.Generator().manual_seed(seed + 1)
        plan, task = self.plan, self.data.task
        n_train, batch_size = len(self.x_train), plan.batch_size
        best_value: float | None = None
        best_threshold: Threshold | None = None
        best_state: dict[str, Tensor] = {}
        stale = drops = epoch = 0
        try:
            for epoch in range(1, plan.max_epochs + 1):
                model.train()
                order = torch.randperm(n_train, generator=generator).to(self.device)
                for start in range(0, n_train, batch_size):
                    rows = order[start : start + batch_size]
                    logits = model(self.x_train[rows]).squeeze(-1)
                    value = loss_value(loss, task, logits, self.y_train[rows], self.weights, gamma)
                    optimizer.zero_grad()
                    value.backward()  # type: ignore[no-untyped-call]
                    optimizer.step()
                if epoch % plan.eval_every and epoch < plan.max_epochs:
                    continue
                model.eval()
                with torch.no_grad():
                    outputs = model(self.x_validation).squeeze(-1).double().cpu().numpy()
                try:
                    score = self.evaluator.score_validation(outputs)
                except DegenerateOutputs:
                    return math.nan  # Optuna fails the trial, as the engine fails such a member
                if self.evaluator.better(score.value, best_value):
                    best_value, best_threshold, stale = score.value, score.threshold, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    stale += 1
                trial.report(score.value, step=epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()
                if stale >= plan.drop_patience and drops < plan.learning_rate_drops:
                    for group in optimizer.param_groups:
                        group["lr"] *= plan.learning_rate_drop_factor
                    stale, drops = 0, drops + 1
                elif stale >= plan.patience:
                    break
        finally:
            self.epochs_trained[trial.number] = epoch
        assert best_value is not None
        if self.evaluator.better(best_value, self.best.value):
            self.best = _Best(best_value, trial.number, best_threshold, best_state)
        return best_value

    def best_test(self) -> float | None:
        """The test score of the study's best trial, at its best evaluation's weights."""
        if self.best.value is None:
            return None
        model = mlp(self.shape).to(self.device)
        model.load_state_dict(self.best.state)
        model.eval()
        x_test = torch.as_tensor(self.data.test.X, device=self.device)
        with torch.no_grad():
            outputs = model(x_test).squeeze(-1).double().cpu().numpy()
        return self.evaluator.score_split(self.data.test, outputs, self.best.threshold)


def run_plain(
    dataset: str,
    task: str,
    metric: str,
    trials: int,
    seed: int,
    threads: int = 1,
    device: str = "cpu",
) -> dict[str, Any]:
    """Run the plain loop on one job; its timing, statement counts, trial epochs and result.

    ``seconds`` covers what the engine's search phase covers: preparing the data, creating the
    study and running every trial.
    """
    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        # What ``create_study(storage="sqlite:///...")`` builds, made here so that its SQLAlchemy
        # engine can be listened to; Optuna wraps it in the same caching layer either way.
        storage = optuna.storages.RDBStorage(f"sqlite:///{Path(tmp) / 'plain.db'}")
        counts = count_statements(storage)
        started = time.perf_counter()
        before = counts.snapshot()
        data = prepared_data(dataset, task, seed)
        evaluator = evaluator_for(metric, data)
        plan = plan_training(len(data.train))
        objective = PlainObjective(data, evaluator, plan, seed, torch.device(device))
        better = evaluator.metric.greater_is_better
        direction = StudyDirection.MAXIMIZE if better else StudyDirection.MINIMIZE
        study = optuna.create_study(
            storage=storage,
            study_name="plain",
            direction=direction,
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=10),
        )
        study.optimize(objective, n_trials=trials)
        seconds = time.perf_counter() - started
        written = difference(counts.snapshot(), before)
        states: dict[str, int] = {}
        for frozen in study.get_trials(deepcopy=False):
            state = frozen.state.name.lower()
            states[state] = states.get(state, 0) + 1
        best_loss = None
        if objective.best.value is not None:
            best_loss = str(study.trials[objective.best.number].params["loss"])
        test = objective.best_test()
        storage.engine.dispose()
    return {
        "mode": "plain",
        "search_seconds": seconds,
        "finalize_seconds": None,
        "seconds": seconds,
        "trials_per_minute": trials / seconds * 60,
        "peak_memory_mib": peak_memory_mib(torch.device(device)),
        "best_loss": best_loss,
        "best_validation": objective.best.value,
        "best_test": test,
        "baseline_test": None,
        "trial_counts": states,
        "epochs_trained": list(objective.epochs_trained.values()),
        "statements": written,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dataset", default="page_blocks0.csv.gz")
    parser.add_argument("--task", default="binary")
    parser.add_argument("--metric", default="f1")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    result = run_plain(
        args.dataset, args.task, args.metric, args.trials, args.seed, args.threads, args.device
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
