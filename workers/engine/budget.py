"""How many trials a search may still start.

A job's trial budget is shared by every process working on its study. A *slot* is taken before a
trial is asked for; a trial lost with its worker gives its slot back (its re-queued copy takes it
again), so the budget counts each logical trial once however many workers race for it.

A trial, once asked for, is also *claimed* by number. Optuna hands a queued trial to exactly one
caller on databases with row locks, but on SQLite two processes can both pop the same queued
trial; the claim (a unique row) settles which of them runs it.

:class:`StudyBudget` counts from the study itself and suits one process (a notebook, a single
worker). Several processes need an atomic ledger; the worker provides one backed by the job row.
"""

from __future__ import annotations

from typing import Protocol

import optuna

from workers.engine.studies import trials_used


class TrialBudget(Protocol):
    """Slots for starting trials."""

    def take(self) -> bool:
        """Take one slot; False when the budget is spent."""
        ...

    def give_back(self) -> None:
        """Return one slot (a trial was lost with its worker)."""
        ...

    def claim(self, trial_number: int) -> bool:
        """Become the one process that runs this trial; False if another already is."""
        ...

    def settle(self, used: int) -> None:
        """Set the slots taken to ``used``, as counted from the study.

        For a caller that alone works on the study now (the finalizer): a worker that died
        between taking a slot and starting its trial leaves the ledger one slot short, which only
        the study's own count can tell.
        """
        ...


class StudyBudget:
    """The budget as ``n_trials`` minus the trials the study already counts (one process).

    The study is counted once, on the first :meth:`take`; after that every started trial is
    one this process took a slot for, so counting locally is exact and spares a read of every
    trial per take (which grew with the study).
    """

    def __init__(self, study: optuna.Study, n_trials: int) -> None:
        self._study = study
        self._n_trials = n_trials
        self._used: int | None = None  # trials counted at the first take, plus slots taken

    def take(self) -> bool:
        if self._used is None:
            self._used = trials_used(self._study.get_trials(deepcopy=False))
        if self._used >= self._n_trials:
            return False
        self._used += 1
        return True

    def give_back(self) -> None:
        # One process loses no trial to another worker; nothing to return.
        return None

    def claim(self, trial_number: int) -> bool:
        return True  # one process: every trial it asks for is its own

    def settle(self, used: int) -> None:
        self._used = used
