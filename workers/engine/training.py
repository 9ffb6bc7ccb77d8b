"""The data on the device, what a trained member reports, and training a fixed population.

The training settings are planned in :mod:`workers.engine.training_plan`; the fit loop itself
lives in :mod:`workers.engine.trainer`; :func:`train_population` trains a fixed set of members
with it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from workers.engine.datasets import PreparedData
from workers.engine.evaluation import Evaluator, Score
from workers.engine.losses.base import LossContext
from workers.engine.networks import NetworkShape, forward, network_shape
from workers.engine.population import MemberConfig
from workers.engine.spec import Task
from workers.engine.training_plan import TrainingPlan


class Outcome(StrEnum):
    COMPLETE = "complete"
    PRUNED = "pruned"
    FAILED = "failed"


@dataclass
class MemberResult:
    """How one member's training ended and the best validation score it reached."""

    outcome: Outcome
    score: Score | None = None
    best_epoch: int = 0
    epochs_trained: int = 0
    reason: str | None = None
    state: list[Tensor] | None = field(default=None, repr=False)


class Monitor(Protocol):
    """Receives members' validation metrics as training goes; may ask to prune some.

    ``report`` gets one round of evaluations ``(member, epoch, value)`` and returns the members
    to prune.
    """

    def report(self, reports: Sequence[tuple[Hashable, int, float]]) -> set[Hashable]: ...


@dataclass
class DeviceData:
    """The split tensors, moved to the device once per job."""

    data: PreparedData
    device: torch.device
    x_train: Tensor
    y_train: Tensor
    x_validation: Tensor
    x_test: Tensor

    @classmethod
    def create(cls, data: PreparedData, device: torch.device) -> DeviceData:
        # Class codes for multiclass, except soft targets: a float distribution per row.
        hard_classes = data.task is Task.MULTICLASS and not data.soft_targets
        target_dtype = torch.long if hard_classes else torch.float32
        return cls(
            data=data,
            device=device,
            x_train=torch.as_tensor(data.train.X, device=device),
            y_train=torch.as_tensor(data.train.y, dtype=target_dtype, device=device),
            x_validation=torch.as_tensor(data.validation.X, device=device),
            x_test=torch.as_tensor(data.test.X, device=device),
        )

    @property
    def shape(self) -> NetworkShape:
        return network_shape(self.data.n_features, self.data.n_outputs)

    def loss_context(self, plan: TrainingPlan, evaluator: Evaluator) -> LossContext:
        """What the losses may know about this job."""
        data = self.data
        counts = data.train_class_counts if data.task is not Task.REGRESSION else np.ones(1)
        return LossContext(
            task=data.task,
            n_outputs=data.n_outputs,
            class_counts=torch.as_tensor(
                np.asarray(counts), dtype=torch.float32, device=self.device
            ),
            device=self.device,
            n_train=len(data.train),
            max_epochs=plan.max_epochs,
            metric=evaluator.metric.name,
            metric_params=evaluator.params,
            target_mean=data.target_mean,
            target_std=data.target_std,
            target_scale=data.target_scale,
            soft_targets=data.soft_targets,
        )


def train_population(
    members: Sequence[MemberConfig],
    device_data: DeviceData,
    evaluator: Evaluator,
    plan: TrainingPlan,
    monitor: Monitor | None = None,
    keep_states: bool = False,
) -> list[MemberResult]:
    """Train a fixed set of members together; one result per member, in the order given.

    The monitor (if any) receives each member's index in ``members`` as its key.
    """
    from workers.engine.trainer import PopulationTrainer

    trainer = PopulationTrainer(device_data, evaluator, plan, monitor, keep_states)
    for index, member in enumerate(members):
        trainer.add(index, member)
    results: dict[Hashable, MemberResult] = {}
    while trainer.size:
        results.update(trainer.run_epoch())
    return [results[i] for i in range(len(members))]


def predict(state: Sequence[Tensor], inputs: Tensor) -> np.ndarray:
    """One member's outputs on ``inputs`` (rows on the same device), as float64 numpy."""
    with torch.no_grad():
        outputs = forward([p.unsqueeze(0) for p in state], inputs)[0]
    return outputs.double().cpu().numpy()
