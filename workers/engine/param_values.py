"""The values a resolved metric parameter takes, and typed access to them.

A parameter is a number, a choice (a string) or a square cost matrix (``expected_cost``'s
``costs``); code that reads a numeric parameter says so with :func:`number`.
"""

from __future__ import annotations

from collections.abc import Mapping

CostMatrix = tuple[tuple[float, ...], ...]
ParamValue = float | str | CostMatrix


def number(params: Mapping[str, object], name: str, default: float | None = None) -> float:
    """The numeric parameter ``name`` (``default`` when absent); TypeError if it is a matrix."""
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"metric parameter {name!r} is not a number: {value!r}")
    return float(value)


# A parameter as JSON carries it (results, the API's views): a matrix is a list of rows.
ParamJson = float | str | list[list[float]]


def as_json(params: Mapping[str, ParamValue]) -> dict[str, ParamJson]:
    """``params`` with each matrix as a list of lists, as results and views carry it."""
    return {
        name: [list(row) for row in value] if isinstance(value, tuple) else value
        for name, value in params.items()
    }
