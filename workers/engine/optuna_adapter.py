"""Every use of Optuna beyond its public API in the engine, in one place (the workers'
``workers.batched_storage`` writes through Optuna's internal models too).

The engine needs a few things Optuna's public API does not give: the storage and ids behind a
study and a trial (to read and write trials without ``Study.get_trials``, which reloads every
unfinished trial on each call), a ``Trial`` for an id it already holds, a pruner's
verdict on a member that is not a trial of the study (population peers), and the names of the
storage methods that each open a transaction (to retry them on database blips). Each is a
function here; ``tests/engine/test_optuna_adapter.py`` checks them (and
``tests/workers/test_batched_storage.py`` that storage) against the installed Optuna, whose
range ``pyproject.toml`` pins to the versions those tests have passed on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import optuna
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

IN_MEMORY_STORAGE_LOGGER = "optuna.storages._in_memory"
"""The logger that announces every in-memory study (the sampler makes one per batch)."""

RDB_TRANSACTION_METHODS = (
    "create_new_study",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "set_study_user_attr",
    "set_study_system_attr",
    "_create_new_trial",
    "_set_trial_param",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial_id_from_study_id_trial_number",
    "get_trial",
    "_get_trials",
    "_get_best_trial_id",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "record_heartbeat",
    "_get_stale_trial_ids",
)
"""``RDBStorage`` methods that each run in a transaction of their own, and none that calls
another of them (retrying both would multiply the wait). ``set_trial_state_values`` is one too,
but a retry of it needs care (see ``workers.storage``). The private ones are what Optuna's
public calls and its caching layer go through."""


def storage_of(study: optuna.Study) -> BaseStorage:
    """The storage ``study`` talks to: for an RDB storage, Optuna's caching layer over it,
    which reads finished trials from its cache and delegates everything else. Calls on it skip
    the study's own per-call reloading of unfinished trials."""
    storage: BaseStorage = study._storage
    return storage


def backend_of(study: optuna.Study) -> BaseStorage:
    """The storage behind the study's caching layer (for an RDB storage, the ``RDBStorage``
    itself; otherwise the study's storage)."""
    storage = storage_of(study)
    backend: BaseStorage = getattr(storage, "_backend", storage)
    return backend


def study_id_of(study: optuna.Study) -> int:
    """The storage's id of ``study``."""
    return int(study._study_id)


def trial_id_of(trial: optuna.Trial | FrozenTrial) -> int:
    """The storage's id of ``trial``, live or frozen (unique across studies, unlike its
    number)."""
    return int(trial._trial_id)


def trial_by_id(study: optuna.Study, trial_id: int) -> optuna.Trial:
    """A live ``Trial`` of ``study`` for a trial the storage already holds.

    A ``Trial`` caches its parameters when made, so one made after parameters were written
    directly to the storage sees them.
    """
    return optuna.Trial(study, trial_id)


class Reported(Protocol):
    """What a pruner reads of a trial it compares with: its intermediate values, by step.
    A ``FrozenTrial`` is one; so is a :class:`History`."""

    @property
    def intermediate_values(self) -> Mapping[int, float]: ...


@dataclass(frozen=True)
class History:
    """The intermediate values of a member that is not (yet) a finished trial."""

    intermediate_values: Mapping[int, float]
    last_step: int | None = None


@dataclass(frozen=True)
class _Comparison:
    """What a percentile pruner reads of a study: its direction and the trials to compare."""

    direction: StudyDirection
    trials: Sequence[Reported]

    def get_trials(
        self, deepcopy: bool = False, states: Sequence[TrialState] | None = None
    ) -> list[Any]:
        # The caller passes exactly the trials to compare with; no filtering by state.
        return list(self.trials)


def should_prune(
    pruner: optuna.pruners.BasePruner,
    direction: StudyDirection,
    peers: Sequence[Reported],
    values: Mapping[int, float],
    step: int,
) -> bool:
    """Whether ``pruner`` stops a member whose values are ``values`` at ``step``, compared
    with ``peers`` (completed trials and the members training beside it).

    Optuna's pruners take a study and a trial; a member of a population is neither a trial
    the study would compare (its peers are still running) nor one it could find. The median
    and percentile pruners read only the study's direction and trials and the trial's last
    step and values, so those are handed over directly.
    """
    comparison = _Comparison(direction, peers)
    mine = History(intermediate_values=values, last_step=step)
    return bool(pruner.prune(comparison, mine))  # type: ignore[arg-type]
