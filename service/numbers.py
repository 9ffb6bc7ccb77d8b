"""Numbers for a person: each shown to the precision its uncertainty supports.

The rule (the usual one for reporting a measurement): the uncertainty (the half-width of a 95%
interval, or the standard deviation over seeds) is shown to two significant digits when its
leading digit is 1 or 2, to one otherwise, and the value is rounded to the same decimal place.
So ``0.7345812931`` with a 95% interval of ``[0.70123, 0.77456]`` (half-width 0.037) reads
``0.73 [0.70, 0.77]``, and ``0.4842 ± 0.0092`` reads ``0.484 ± 0.009``. A number without a known
uncertainty gets four significant digits. It writes text for people (the report page, the
summary sentences of :mod:`service.wording`); the JSON figures keep full precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

FALLBACK_DIGITS = 4  # significant digits of a number whose uncertainty is unknown
MAX_DECIMALS = 10
MISSING = "—"


def decimals(uncertainty: float | None) -> int | None:
    """Decimal places that show ``uncertainty`` to one significant digit (two when it begins
    with 1 or 2); None when it is unknown, zero or not finite."""
    if uncertainty is None or not math.isfinite(uncertainty) or uncertainty <= 0:
        return None
    exponent = math.floor(math.log10(uncertainty))
    leading = uncertainty / 10.0**exponent
    significant = 2 if leading < 3 else 1
    return min(max(significant - 1 - exponent, 0), MAX_DECIMALS)


def number(value: float | None, uncertainty: float | None = None, *, signed: bool = False) -> str:
    """``value`` rounded to the decimal place ``uncertainty`` supports (four significant
    digits without one); ``signed`` writes a ``+`` before positive values."""
    if value is None:
        return MISSING
    if not math.isfinite(value):
        return str(value)
    places = decimals(uncertainty)
    sign = "+" if signed else ""
    style = f"{FALLBACK_DIGITS}g" if places is None else f"{places}f"
    return _no_negative_zero(f"{value:{sign}.{style}}")


def half_width(interval: Sequence[float] | None) -> float | None:
    """Half the width of an interval: the uncertainty it expresses."""
    if not interval or len(interval) != 2:
        return None
    return (interval[1] - interval[0]) / 2.0


def interval(
    bounds: Sequence[float] | None, uncertainty: float | None = None, *, signed: bool = False
) -> str:
    """``[low, high]`` rounded to the place its own half-width (or ``uncertainty``) supports."""
    if not bounds or len(bounds) != 2:
        return MISSING
    scale = uncertainty if uncertainty is not None else half_width(bounds)
    low, high = (number(bound, scale, signed=signed) for bound in bounds)
    return f"[{low}, {high}]"


def estimate(value: float | None, bounds: Sequence[float] | None, *, signed: bool = False) -> str:
    """A value and its 95% interval, both to the place the interval's half-width supports:
    ``0.73 [0.70, 0.77]``."""
    scale = half_width(bounds)
    if not bounds or len(bounds) != 2:
        return number(value, signed=signed)
    return f"{number(value, scale, signed=signed)} {interval(bounds, scale, signed=signed)}"


def mean_std(mean: float | None, std: float | None) -> str:
    """A mean over seeds and their standard deviation: ``0.484 ± 0.009`` (``1 ± 0`` when every
    seed gave the same value)."""
    if std == 0 and mean is not None:
        return f"{number(mean)} ± 0"
    if std is None or decimals(std) is None:
        return number(mean)
    return f"{number(mean, std)} ± {number(std, std)}"


def probability(value: float | None) -> str:
    """A probability with three decimals, more when it is close to 0 or 1 (so that 0.9996
    does not read as 1.000): two significant digits of its distance from the nearer end."""
    if value is None:
        return MISSING
    distance = min(value, 1.0 - value)
    if not math.isfinite(distance) or distance <= 0:
        return f"{value:.3f}"
    places = min(max(3, 1 - math.floor(math.log10(distance))), MAX_DECIMALS)
    return f"{value:.{places}f}"


def smallest(uncertainties: Sequence[float | None]) -> float | None:
    """The smallest known, positive uncertainty (the finest precision any of them supports)."""
    known = [u for u in uncertainties if u is not None and math.isfinite(u) and u > 0]
    return min(known) if known else None


def _no_negative_zero(text: str) -> str:
    """``-0.00`` is zero: write it without the sign."""
    if text.startswith("-") and not any(c in "123456789" for c in text):
        return text[1:]
    return text
