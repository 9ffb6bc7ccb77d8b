"""Reading a job's trials out of Optuna's storage, shaped for the API."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from service.schemas import BestSoFar, Progress, TrialOut
from workers.engine.studies import retried_trial_numbers

_STATE_NAMES: dict[TrialState, Literal["running", "waiting", "complete", "pruned", "failed"]] = {
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
}
LOST_WORKER = "the worker running this trial was lost (no heartbeat); the trial was queued again"


@lru_cache(maxsize=4)
def read_storage(url: str) -> RDBStorage:
    """A storage for reading trials; the tables are created by the migrate step."""
    kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return RDBStorage(
        url, engine_kwargs=kwargs, skip_compatibility_check=True, skip_table_creation=True
    )


def load_trials(url: str, study_name: str) -> list[FrozenTrial]:
    """All trials of a study, or none if the search has not created it yet."""
    storage = read_storage(url)
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return []
    return storage.get_all_trials(study_id, deepcopy=False)


def to_trial_out(trial: FrozenTrial, retried: set[int]) -> TrialOut:
    attrs = trial.user_attrs
    reason = attrs.get("failure_reason")
    if trial.state == TrialState.FAIL and reason is None:
        reason = LOST_WORKER if trial.number in retried else "the trial failed without a reason"
    duration = None
    if trial.datetime_start and trial.datetime_complete:
        duration = (trial.datetime_complete - trial.datetime_start).total_seconds()
    training = {
        key: attrs[key]
        for key in ("learning_rate", "seed", "best_epoch", "epochs_trained")
        if key in attrs
    }
    return TrialOut(
        number=trial.number,
        state=_STATE_NAMES[trial.state],
        arm=attrs.get("arm"),
        family=attrs.get("family"),
        loss=attrs.get("loss"),
        loss_params=attrs.get("loss_params") or {},
        training=training,
        value=trial.value if trial.state in (TrialState.COMPLETE, TrialState.PRUNED) else None,
        threshold=attrs.get("threshold"),
        started_at=_aware(trial.datetime_start),
        finished_at=_aware(trial.datetime_complete),
        duration_s=duration,
        failure_reason=reason,
    )


def _aware(moment: datetime | None) -> datetime | None:
    # Optuna records naive local times; the API speaks UTC.
    return moment.astimezone(UTC) if moment is not None else None


def trial_views(trials: list[FrozenTrial]) -> list[TrialOut]:
    retried = retried_trial_numbers(trials)
    return [to_trial_out(t, retried) for t in trials]


def progress(trials: list[FrozenTrial], planned: int) -> Progress:
    states = Counter(t.state for t in trials)
    retried = retried_trial_numbers(trials)
    lost = sum(1 for t in trials if t.state == TrialState.FAIL and t.number in retried)
    complete, pruned = states[TrialState.COMPLETE], states[TrialState.PRUNED]
    failed = states[TrialState.FAIL] - lost
    finished = complete + pruned + failed
    return Progress(
        planned=planned,
        finished=finished,
        complete=complete,
        pruned=pruned,
        failed=failed,
        running=states[TrialState.RUNNING],
        fraction=min(1.0, finished / planned) if planned else 1.0,
    )


def best_so_far(trials: list[FrozenTrial], maximize: bool) -> FrozenTrial | None:
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not complete:
        return None
    sign = 1.0 if maximize else -1.0
    return max(complete, key=lambda t: sign * float(t.value or 0.0))


def best_summary(trial: FrozenTrial | None) -> BestSoFar | None:
    if trial is None or trial.value is None:
        return None
    return BestSoFar(
        trial_number=trial.number,
        value=trial.value,
        family=trial.user_attrs.get("family"),
        loss=trial.user_attrs.get("loss"),
    )
