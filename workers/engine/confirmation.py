"""Confirmation runs: is the search's winner a real win, or the luckiest of many noisy trials?

The ``top_k`` best setups of the search (by their trial's validation metric) and the baseline
(the best trial of the plain proxy loss) are each retrained on ``seeds`` fresh seeds, all in one
population. The leader is the setup with the best *mean validation* metric over those seeds; it
is returned only if it is also reliably better than the baseline out of fold on the training rows
(see :mod:`workers.engine.gate`). Test data is used only afterwards, to report the winner and
the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from optuna.trial import FrozenTrial

from workers.engine.cross_fitting import CrossFitPlan
from workers.engine.evaluation import Evaluator, Threshold
from workers.engine.losses import get_loss
from workers.engine.population import MemberConfig
from workers.engine.training import (
    DeviceData,
    MemberResult,
    Outcome,
    predict,
    train_population,
)
from workers.engine.training_plan import TrainingPlan


@dataclass(frozen=True)
class ConfirmationPlan:
    """How hard to check: how many finalists, how many fresh seeds, how many resamples, and how
    the gate cross-fits (:mod:`workers.engine.cross_fitting`)."""

    top_k: int = 3
    seeds: int = 5
    resamples: int = 500
    cross_fit: CrossFitPlan = field(default_factory=CrossFitPlan)


@dataclass
class Run:
    """One finalist trained on one fresh seed."""

    seed: int
    result: MemberResult
    validation_outputs: np.ndarray | None
    test_outputs: np.ndarray | None

    @property
    def ok(self) -> bool:
        return (
            self.result.outcome is not Outcome.FAILED
            and self.validation_outputs is not None
            and self.test_outputs is not None
        )


@dataclass
class Finalist:
    """A setup taken from a trial, and its runs on the fresh seeds."""

    trial: FrozenTrial
    config: MemberConfig
    runs: list[Run] = field(default_factory=list)

    @property
    def loss(self) -> str:
        return self.config.loss

    @property
    def completed(self) -> list[Run]:
        return [run for run in self.runs if run.ok]

    def validation_values(self) -> list[float]:
        return [float(run.result.score.value) for run in self.completed if run.result.score]

    def thresholds(self) -> list[Threshold]:
        return [
            run.result.score.threshold
            for run in self.completed
            if run.result.score and run.result.score.threshold is not None
        ]


def confirmation_seeds(job_seed: int, count: int) -> list[int]:
    """Seeds no trial used: drawn from the job's seed under a separate key."""
    state = np.random.SeedSequence([job_seed, 0xC0FFEE]).generate_state(count)
    return [int(s) for s in state]


def config_of(trial: FrozenTrial) -> MemberConfig:
    """The training configuration a trial recorded."""
    attrs = trial.user_attrs
    return MemberConfig(
        loss=attrs["loss"],
        loss_params=dict(attrs.get("loss_params") or {}),
        learning_rate=float(attrs["learning_rate"]),
        seed=int(attrs["seed"]),
        batch_size=attrs.get("batch_size"),
    )


def run_confirmation(
    finalists: list[Finalist],
    evaluator: Evaluator,
    device_data: DeviceData,
    plan: TrainingPlan,
    seeds: list[int],
) -> None:
    """Train every finalist on every seed, together, and record each run (in place)."""
    members = [
        MemberConfig(
            f.config.loss, f.config.loss_params, f.config.learning_rate, seed, f.config.batch_size
        )
        for f in finalists
        for seed in seeds
    ]
    results = iter(train_population(members, device_data, evaluator, plan, keep_states=True))
    for finalist in finalists:
        for seed in seeds:
            result = next(results)
            validation = test = None
            if result.outcome is not Outcome.FAILED and result.state is not None:
                validation = predict(result.state, device_data.x_validation)
                test = predict(result.state, device_data.x_test)
            result.state = None  # the weights are not kept past this point
            finalist.runs.append(Run(seed, result, validation, test))


def choose_winner(finalists: list[Finalist], evaluator: Evaluator) -> Finalist:
    """The finalist with the best mean validation metric over its completed runs."""
    scored = [f for f in finalists if f.completed]
    if not scored:
        raise ValueError("no finalist completed a confirmation run")
    sign = 1.0 if evaluator.metric.greater_is_better else -1.0
    return max(scored, key=lambda f: sign * float(np.mean(f.validation_values())))


def link_of(finalist: Finalist) -> str:
    return get_loss(finalist.loss).link


def consensus_threshold(thresholds: list[Threshold]) -> Threshold | None:
    """The median of the runs' thresholds (per label for multilabel): the one to deploy."""
    if not thresholds:
        return None
    if isinstance(thresholds[0], tuple):
        matrix = np.array([list(t) for t in thresholds if isinstance(t, tuple)])
        return tuple(float(v) for v in np.median(matrix, axis=0))
    return float(np.median([float(t) for t in thresholds if not isinstance(t, tuple)]))
