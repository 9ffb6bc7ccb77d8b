"""Between training and Optuna: per-epoch reports (so the pruner can act) and final results."""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from workers.engine.optuna_adapter import History, Reported, should_prune, trial_id_of
from workers.engine.training import MemberResult, Outcome
from workers.engine.write_batch import deferred_writes

logger = logging.getLogger(__name__)


class OptunaMonitor:
    """Reports members' validation metrics to their trials and asks the study's pruner.

    Members are keyed as in ``trials`` (the search uses trial numbers). The pruner (a median or
    percentile rule) compares a member with every trial that reached the same epoch: the
    completed ones, as Optuna does, and also the other members training now. In a population
    most peers are still running, and without them the first wave could never be pruned;
    trained one at a time the rule is exactly Optuna's. A round of reports is judged against
    one snapshot of the completed trials, reloaded when a trial ends here or every
    ``refresh_s`` seconds (to see other workers' trials): asking ``Trial.should_prune`` member
    by member would reload every trial from the database each time.
    """

    def __init__(
        self,
        study: optuna.Study,
        trials: Mapping[Any, optuna.Trial],
        refresh_s: float = 10.0,
    ) -> None:
        self.study = study
        self.trials = trials
        self.history: dict[Hashable, dict[int, float]] = {}
        self._refresh_s = refresh_s
        self._completed: list[FrozenTrial] | None = None
        self._completed_here: list[History] = []  # completed since the last load
        self._loaded_at = 0.0

    def report(self, reports: Sequence[tuple[Hashable, int, float]]) -> set[Hashable]:
        """Store one round of evaluations (in one transaction) and return the members to stop:
        pruned, or ended elsewhere (declared lost by another worker)."""
        pruned: set[Hashable] = set()
        with deferred_writes(self.study) as batch:
            for member, epoch, value in reports:
                try:
                    self.trials[member].report(value, step=epoch)
                except optuna.exceptions.UpdateFinishedTrialError:
                    pruned.add(member)  # ended elsewhere (declared lost): stop spending on it
                self.history.setdefault(member, {})[epoch] = value
        # A storage that held the reports back finds such trials only as it writes them.
        pruned |= {m for m, _, _ in reports if trial_id_of(self.trials[m]) in batch.finished}
        completed: list[Reported] = [*self._completed_trials(), *self._completed_here]
        peers = {key: History(h) for key, h in self.history.items()}
        for member, epoch, _ in reports:
            if member in pruned or self.trials[member].user_attrs.get("arm") == "baseline":
                continue  # the baseline always trains to the end: every job needs it
            others = [peer for key, peer in peers.items() if key != member]
            compared = [*completed, *others]
            pruner, direction = self.study.pruner, self.study.direction
            if should_prune(pruner, direction, compared, self.history[member], epoch):
                pruned.add(member)
        return pruned

    def forget(self, member: Hashable, completed: bool) -> None:
        """The member ended (and was told); if it completed, later rounds compare with it."""
        history = self.history.pop(member, None)
        if completed and history:
            self._completed_here.append(History(history))

    def _completed_trials(self) -> list[FrozenTrial]:
        # Other workers' trials appear in the study only; reload it now and then.
        now = time.monotonic()
        if self._completed is None or now - self._loaded_at > self._refresh_s:
            self._completed = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            self._completed_here = []
            self._loaded_at = now
        return self._completed


def abandon(study: optuna.Study, trial: optuna.Trial, reason: str) -> FrozenTrial | None:
    """End a trial that will not finish (its job was cancelled) as failed, with the reason.

    Returns the ended trial, or None if it had already ended elsewhere.
    """
    try:
        trial.set_user_attr("failure_reason", reason)
        return study.tell(trial, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return None


def tell(study: optuna.Study, trial: optuna.Trial, result: MemberResult) -> FrozenTrial | None:
    """Store a member's result on its trial and end the trial in the matching state, in one
    transaction.

    Returns the ended trial, or None if another worker had already ended it.
    """
    try:
        with deferred_writes(study) as batch:
            frozen = _record(study, trial, result)
    except optuna.exceptions.UpdateFinishedTrialError:
        frozen = None  # ended elsewhere between the tell's check and its write
    # _record always sets attributes before telling; if the trial had already ended, the tell
    # was skipped and those writes were dropped as the block closed.
    if frozen is None or trial_id_of(trial) in batch.finished:
        # Another worker declared this trial lost (our heartbeat stalled) and re-queued it.
        logger.warning("trial %d was already ended elsewhere; dropping this result", trial.number)
        return None
    return frozen


def _record(study: optuna.Study, trial: optuna.Trial, result: MemberResult) -> FrozenTrial:
    trial.set_user_attr("epochs_trained", result.epochs_trained)
    trial.set_user_attr("best_epoch", result.best_epoch)
    if result.score is not None and result.score.threshold is not None:
        trial.set_user_attr("threshold", result.score.threshold)
    if result.score is not None and result.score.temperature is not None:
        trial.set_user_attr("temperature", result.score.temperature)
    if result.outcome is Outcome.FAILED:
        trial.set_user_attr("failure_reason", result.reason)
        return study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
    if result.outcome is Outcome.PRUNED:
        return study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
    assert result.score is not None
    return study.tell(trial, result.score.value, skip_if_finished=True)
