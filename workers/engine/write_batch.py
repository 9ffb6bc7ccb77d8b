"""Holding a trial's writes back so that they land in one transaction (the engine's side).

Optuna's RDB storage commits every parameter, user attribute and intermediate value on its own:
about ten commits to start a trial and one per evaluation, which for a population of small models
costs more than training them. Inside :func:`deferred_writes`, a storage that can (a
:class:`DefersWrites`, such as the workers' ``workers.batched_storage.BatchedRDBStorage``) holds
those writes back and lands them together: at the end of the block, or, for a trial told inside
it, with the trial's end. Elsewhere the block changes nothing and writes land as made.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import optuna
from optuna.distributions import BaseDistribution

from workers.engine.optuna_adapter import backend_of


@dataclass
class HeldParam:
    """A parameter held back: its internal value, its distribution, and whether that was
    already checked against the study's earlier distribution of the same name."""

    value: float
    distribution: BaseDistribution
    checked: bool


@dataclass
class TrialWrites:
    """One trial's writes held back."""

    params: dict[str, HeldParam] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    intermediate_values: dict[int, float] = field(default_factory=dict)


@dataclass
class WriteBatch:
    """The writes held back in a :func:`deferred_writes` block, by trial id.

    After the block, :attr:`finished` holds the trials whose writes were dropped because the
    trial had already finished (another worker declared it lost), as ``RDBStorage`` would have
    refused each of them with ``UpdateFinishedTrialError``.
    """

    trials: dict[int, TrialWrites] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)

    def of(self, trial_id: int) -> TrialWrites:
        """The writes held for ``trial_id`` (created empty on first use)."""
        return self.trials.setdefault(trial_id, TrialWrites())


@runtime_checkable
class DefersWrites(Protocol):
    """A storage that can hold this thread's trial writes back until a block ends."""

    def deferred(self) -> AbstractContextManager[WriteBatch]: ...


@contextmanager
def deferred_writes(study: optuna.Study) -> Iterator[WriteBatch]:
    """Hold the study's trial writes made in this block and land them together at its end
    (or with the trial's end, for a trial told inside it), if its storage can."""
    backend = backend_of(study)
    if isinstance(backend, DefersWrites):
        with backend.deferred() as batch:
            yield batch
    else:
        yield WriteBatch()
