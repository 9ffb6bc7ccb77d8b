"""Combinations: ``lam * proxy + (1 - lam) * surrogate``, after a warm-up on the proxy alone.

Direct surrogates trained from scratch are often unstable (their gradients vanish or point
nowhere useful while the model is still random), so each surrogate also enters the search
mixed with the plain proxy (cross-entropy, or MSE for regression) and with a warm-up: for the
first ``round(warmup * max_epochs)`` epochs only the proxy trains. Both ``lam`` and ``warmup``
are searched; ``lam = 0`` is the pure surrogate after a warm-up. The implementation is
:mod:`workers.engine.losses.mixture`.
"""

from __future__ import annotations

from dataclasses import replace

from workers.engine.losses.catalogue.entry import LossSpec, ParamSpec

MIXTURE_PREFIX = "mixed_"

LAM = ParamSpec("lam", 0.0, 0.95, 0.5, "weight of the proxy loss after the warm-up")
WARMUP = ParamSpec(
    "warmup", 0.0, 0.5, 0.1, "fraction of the epoch cap trained on the proxy alone first"
)


def mixture_of(surrogate: LossSpec) -> LossSpec:
    """The catalogue entry ``mixed_<surrogate>``: its parameters plus ``lam`` and ``warmup``."""
    return replace(
        surrogate,
        name=f"{MIXTURE_PREFIX}{surrogate.name}",
        summary=f"lam * proxy + (1 - lam) * {surrogate.name}, after a proxy-only warm-up.",
        params=(*surrogate.params, LAM, WARMUP),
    )
