"""Errors the engine raises for problems a user can fix."""

from __future__ import annotations


class EngineError(Exception):
    """Base class: the message is meant for the person who submitted the job.

    ``field`` names the part of the job spec at fault (``dataset``, ``target``, ``metric``,
    ...), when it is known.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DatasetError(EngineError):
    """The dataset cannot be found, read, or used for the requested task."""


class SpecError(EngineError):
    """The search specification is inconsistent (metric versus task, unknown loss, ...)."""


class NoCompletedTrials(EngineError):
    """Every trial of the search failed or was pruned; the message says why."""
