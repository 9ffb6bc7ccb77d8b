"""The fit loop: populations that admit members between epochs, score them, stop and drop them.

Each member keeps the weights of its best validation evaluation (early stopping on validation,
never on test). A member ends when it is pruned, when it diverges or collapses (failed, with the
reason), when it has not improved for ``patience`` evaluations, or after ``max_epochs`` of its
own. A member that stops improving while its loss has a training stage still to come
(LDAM-DRW's deferred re-weighting) starts that stage instead, with fresh patience. Members that
end leave the population at once, and new members can join at any epoch boundary, so a search
keeps its populations full instead of waiting for the slowest member.

Members with different batch sizes cannot share batches, so each batch size has its own
population; :meth:`PopulationTrainer.run_epoch` advances each of them by one epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from workers.engine.evaluation import SINGLE_CLASS, Evaluator, Score
from workers.engine.losses import get_loss
from workers.engine.population import MemberConfig, Population
from workers.engine.training import DeviceData, MemberResult, Monitor, Outcome
from workers.engine.training_plan import TrainingPlan

logger = logging.getLogger(__name__)


@dataclass
class _Progress:
    link: str
    best: Score | None = None
    best_epoch: int = 0
    stale: int = 0
    drops: int = 0  # learning-rate drops taken
    staged: bool = False  # the loss started a later training stage (with its own schedule)
    state: list[Tensor] | None = None
    outputs: np.ndarray | None = None  # validation outputs at the best evaluation


@dataclass
class _Group:
    population: Population
    waiting: list[tuple[Hashable, MemberConfig]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.population) + len(self.waiting)


class PopulationTrainer:
    """Trains members as populations (one per batch size); members join and leave freely."""

    def __init__(
        self,
        device_data: DeviceData,
        evaluator: Evaluator,
        plan: TrainingPlan,
        monitor: Monitor | None = None,
        keep_states: bool = False,
    ) -> None:
        self.device_data, self.evaluator, self.plan = device_data, evaluator, plan
        self.monitor, self.keep_states = monitor, keep_states
        self.context = device_data.loss_context(plan, evaluator)
        self.groups: dict[int, _Group] = {}
        self.progress: dict[Hashable, _Progress] = {}

    @property
    def size(self) -> int:
        """Members training or waiting to join."""
        return sum(group.size for group in self.groups.values())

    def keys(self) -> list[Hashable]:
        """Every member in flight (training or waiting)."""
        return list(self.progress)

    def add(self, key: Hashable, member: MemberConfig) -> None:
        """Queue a member; it joins its batch size's population at the next epoch boundary."""
        batch_size = member.batch_size or self.plan.batch_size
        if batch_size not in self.groups:
            population = Population(self.device_data.shape, self.context, self.plan.weight_decay)
            self.groups[batch_size] = _Group(population)
        self.groups[batch_size].waiting.append((key, member))
        self.progress[key] = _Progress(link=get_loss(member.loss).link)

    def run_epoch(self) -> list[tuple[Hashable, MemberResult]]:
        """Advance every population by one epoch; return the members that ended."""
        ended: list[tuple[Hashable, MemberResult]] = []
        for batch_size, group in self.groups.items():
            group.population.add(group.waiting)
            group.waiting = []
            if len(group.population):
                ended += self._epoch(group.population, batch_size)
        for key, _ in ended:
            del self.progress[key]
        return ended

    def _epoch(
        self, population: Population, batch_size: int
    ) -> list[tuple[Hashable, MemberResult]]:
        data = self.device_data
        population.start_epoch()
        n_rows = population.epoch_rows(data.x_train.shape[0])
        orders = population.batch_orders(n_rows, data.device)
        for start in range(0, n_rows, batch_size):
            rows = orders[:, start : start + batch_size]
            population.train_step(data.x_train[rows], data.y_train[rows])
        due = [
            position
            for position, epoch in enumerate(population.epochs)
            if epoch % self.plan.eval_every == 0 or epoch >= self.plan.max_epochs
        ]
        if not due:
            return []
        with torch.no_grad():
            outputs = population.outputs(data.x_validation)
        scored = outputs.double().cpu().numpy()
        keys = [population.keys[p] for p in due]
        links = [self.progress[key].link for key in keys]
        scores = self.evaluator.score_population(scored[due], links)
        reports = [
            (key, population.epochs[p], score.value)
            for p, key, score in zip(due, keys, scores, strict=True)
            if isinstance(score, Score) and self.plan.reports_at(population.epochs[p])
        ]
        pruned = self.monitor.report(reports) if self.monitor is not None and reports else set()
        results: list[tuple[Hashable, MemberResult]] = []
        leaving: set[int] = set()
        for position, key, score in zip(due, keys, scores, strict=True):
            epoch = population.epochs[position]
            result = self._assess(
                population, position, key, scored[position], score, epoch, key in pruned
            )
            if result is not None:
                results.append((key, result))
                leaving.add(position)
        if leaving:
            population.keep([p for p in range(len(population)) if p not in leaving])
        return results

    def _assess(
        self,
        population: Population,
        position: int,
        key: Hashable,
        outputs: np.ndarray,
        score: Score | str,
        epoch: int,
        pruned: bool,
    ) -> MemberResult | None:
        """Record a member's evaluation; its result if it ends now, else None."""
        track = self.progress[key]
        if isinstance(score, str):
            return MemberResult(Outcome.FAILED, epochs_trained=epoch, reason=score)
        if self.evaluator.better(score.value, track.best.value if track.best else None):
            track.best, track.best_epoch, track.stale = score, epoch, 0
            track.outputs = outputs
            if self.keep_states:
                track.state = population.member_state(position)
        else:
            track.stale += 1
        if not pruned and self._restart(population, position, track, epoch):
            return None
        if pruned or epoch >= self.plan.max_epochs or track.stale >= self.plan.patience:
            if not pruned and self._single_class(track):
                return MemberResult(Outcome.FAILED, epochs_trained=epoch, reason=SINGLE_CLASS)
            outcome = Outcome.PRUNED if pruned else Outcome.COMPLETE
            confirmed = self._confirmed(track)
            return MemberResult(outcome, confirmed, track.best_epoch, epoch, state=track.state)
        return None

    def _restart(self, population: Population, position: int, track: _Progress, epoch: int) -> bool:
        """When a member stalls, give it a second wind rather than end it: its loss's next
        training stage if it has one (e.g. deferred re-weighting, which brings its own
        learning-rate schedule), else a learning-rate drop while it has drops left. Either
        way it gets fresh patience. True if the member keeps training."""
        if track.stale < self.plan.drop_patience or epoch >= self.plan.max_epochs:
            return False
        if population.advance_stage(position):
            track.stale, track.staged = 0, True
            return True
        if not track.staged and track.drops < self.plan.learning_rate_drops:
            population.scale_learning_rate(position, self.plan.learning_rate_drop_factor)
            track.stale, track.drops = 0, track.drops + 1
            return True
        return False

    def _single_class(self, track: _Progress) -> bool:
        if track.best is None or track.outputs is None:
            return False
        return self.evaluator.single_class(track.outputs, track.best.threshold)

    def _confirmed(self, track: _Progress) -> Score | None:
        """The member's best score as scikit-learn computes it (the fast path only ranked)."""
        if track.best is None or track.outputs is None:
            return track.best
        best = track.best
        return self.evaluator.confirm(track.outputs, best.threshold, track.link, best.temperature)

    def abandon(self) -> list[Hashable]:
        """Stop every member in flight (e.g. on cancel); return their keys."""
        keys = list(self.progress)
        self.groups.clear()
        self.progress.clear()
        return keys
