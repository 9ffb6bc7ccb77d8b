"""A job's narrowing of the search space: fixed values or sub-ranges for loss parameters.

``{"focal": {"gamma": [0.5, 3.0], "alpha": 0.25}, "training": {"learning_rate": [1e-4, 1e-2]}}``
searches focal's gamma over [0.5, 3], fixes its alpha at 0.25 and narrows the learning rate.
Every name and bound is checked against the catalogue; the error names the offender.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workers.engine.errors import SpecError
from workers.engine.losses import LOSSES
from workers.engine.spec import Task

TRAINING = "training"


class OverrideError(SpecError):
    """A parameter override that does not fit the catalogue."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="params")


LEARNING_RATE_RANGE = (1e-4, 3e-2)
BATCH_SIZE_RANGE = (8, 4096)


@dataclass(frozen=True)
class Range:
    """Where a parameter is searched: ``low == high`` means it is fixed."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    @property
    def fixed(self) -> bool:
        return self.low == self.high


Overrides = Mapping[str, Mapping[str, float | list[float]]]


def resolve_overrides(overrides: Overrides, task: Task) -> dict[str, dict[str, Range]]:
    """Validate ``overrides`` against the catalogue and return them as ranges.

    Raises:
        SpecError: unknown loss or parameter, a parameter the loss does not use for ``task``, a
            range outside the supported one, or a malformed value.
    """
    resolved: dict[str, dict[str, Range]] = {}
    for owner, params in overrides.items():
        supported = _supported(owner, task)
        resolved[owner] = {}
        for name, value in params.items():
            if name not in supported:
                allowed = ", ".join(sorted(supported)) or "none"
                raise OverrideError(
                    f"{owner} has no searchable parameter {name!r} for a {task.value} task "
                    f"(its parameters: {allowed})"
                )
            resolved[owner][name] = _narrow(f"{owner}.{name}", supported[name], value)
    return resolved


def _supported(owner: str, task: Task) -> dict[str, Range]:
    if owner == TRAINING:
        return {
            "learning_rate": Range(*LEARNING_RATE_RANGE, log=True),
            "batch_size": Range(*BATCH_SIZE_RANGE, log=True, integer=True),
        }
    if owner not in LOSSES:
        raise OverrideError(
            f"params name {owner!r}, which is neither a loss nor 'training'; losses are: "
            + ", ".join(sorted(LOSSES))
        )
    spec = LOSSES[owner]
    if task not in spec.tasks:
        raise OverrideError(f"loss {owner!r} is not defined for a {task.value} task")
    return {p.name: Range(p.low, p.high, p.log, p.integer) for p in spec.params_for(task)}


def _narrow(label: str, supported: Range, value: object) -> Range:
    if isinstance(value, bool):
        raise OverrideError(f"{label} must be a number or a [low, high] pair")
    if isinstance(value, int | float):
        low = high = float(value)
    elif (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        low, high = float(value[0]), float(value[1])
    else:
        raise OverrideError(f"{label} must be a number or a [low, high] pair, not {value!r}")
    if low > high:
        raise OverrideError(f"{label} range [{low}, {high}] is empty: low is above high")
    if low < supported.low or high > supported.high:
        raise OverrideError(
            f"{label} [{low}, {high}] is outside the supported range "
            f"[{supported.low}, {supported.high}]"
        )
    if supported.integer and not (low.is_integer() and high.is_integer()):
        raise OverrideError(f"{label} takes whole numbers")
    return Range(low, high, supported.log, supported.integer)
