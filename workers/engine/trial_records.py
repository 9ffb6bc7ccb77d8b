"""Trial records: what the outside world sees of a trial, and the log that receives them.

Optuna's storage is the search's working memory; reading a whole study to answer "how far is the
job?" does not scale with pollers. So the search hands a plain :class:`TrialRecord` to a
:class:`TrialLog` whenever trials change (asked, told, abandoned, lost), and once over the whole
study at the start and the end of every run, which repairs anything a crashed worker left
unrecorded. The service keeps the records in its own table; a notebook passes no log.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, get_args

from optuna.trial import FrozenTrial, TrialState

TrialStateName = Literal["waiting", "running", "complete", "pruned", "failed", "lost"]
"""One vocabulary of trial states, in every response: ``lost`` is a trial whose worker died; it
was queued again with the same parameters and seed, and does not count against the budget."""

TRIAL_STATES: tuple[TrialStateName, ...] = get_args(TrialStateName)
FINISHED_STATES: tuple[TrialStateName, ...] = ("complete", "pruned", "failed", "lost")
LOST_WORKER = "the worker running this trial was lost (no heartbeat); the trial was queued again"
NO_REASON = "the trial failed without a reason"
TRAINING_ATTRS = ("learning_rate", "batch_size", "seed", "best_epoch", "epochs_trained")

_STATES: dict[TrialState, TrialStateName] = {
    TrialState.WAITING: "waiting",
    TrialState.RUNNING: "running",
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
}


@dataclass(frozen=True)
class TrialRecord:
    """A trial as reported: its setup, where it stands, and what it reached on validation.

    ``value`` is the validation metric (for a pruned trial, the last value it reported);
    ``threshold`` the decision threshold on the logit tuned on validation (one per label for
    multilabel); ``temperature`` the temperature fitted on validation for log_loss, brier and ece.
    """

    number: int
    state: TrialStateName
    arm: str | None = None
    family: str | None = None
    loss: str | None = None
    loss_params: dict[str, float] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    value: float | None = None
    threshold: float | list[float] | None = None
    temperature: float | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    failure_reason: str | None = None
    warm_start_from: str | None = None  # the earlier job whose best setup this trial ran

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


class TrialLog(Protocol):
    """Receives trial records as trials change; must not raise into the search."""

    def record(self, records: Sequence[TrialRecord], *, repair: bool = False) -> None:
        """Store (insert or update by number) these records; ``repair``: a record of the whole
        study (trials that changed just now, and every other one again)."""
        ...


def running_record(number: int, attrs: Mapping[str, Any]) -> TrialRecord:
    """The record of a trial that has just started with the setup in ``attrs``."""
    return _from_attrs(number, "running", attrs, started_at=datetime.now(UTC))


def record_of(trial: FrozenTrial, *, lost: bool = False) -> TrialRecord:
    """The record of an Optuna trial; ``lost`` for a failed trial whose worker died."""
    state: TrialStateName = (
        "lost" if lost and trial.state == TrialState.FAIL else _STATES[trial.state]
    )
    value = trial.value if trial.state in (TrialState.COMPLETE, TrialState.PRUNED) else None
    reason = trial.user_attrs.get("failure_reason")
    if state == "lost":
        reason = LOST_WORKER
    elif state == "failed" and reason is None:
        reason = NO_REASON
    return _from_attrs(
        trial.number,
        state,
        trial.user_attrs,
        value=value if value is not None and math.isfinite(value) else None,
        started_at=_utc(trial.datetime_start),
        finished_at=_utc(trial.datetime_complete),
        failure_reason=reason,
    )


def records_of(trials: Sequence[FrozenTrial], retried: set[int]) -> list[TrialRecord]:
    """Records of a whole study; ``retried`` are the numbers of trials lost with their worker."""
    return [record_of(trial, lost=trial.number in retried) for trial in trials]


def _from_attrs(
    number: int, state: TrialStateName, attrs: Mapping[str, Any], **fields: Any
) -> TrialRecord:
    return TrialRecord(
        number=number,
        state=state,
        arm=attrs.get("arm"),
        family=attrs.get("family"),
        loss=attrs.get("loss"),
        loss_params=dict(attrs.get("loss_params") or {}),
        training={key: attrs[key] for key in TRAINING_ATTRS if key in attrs},
        threshold=attrs.get("threshold"),
        temperature=attrs.get("temperature"),
        warm_start_from=attrs.get("warm_start_from"),
        **fields,
    )


def _utc(moment: datetime | None) -> datetime | None:
    # Optuna records naive local times; records carry aware UTC ones.
    return moment.astimezone(UTC) if moment is not None else None
