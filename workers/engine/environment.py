"""Where a result's numbers were produced: the versions that shape them, and the device."""

from __future__ import annotations

import importlib.metadata
import platform

from workers.engine.training import DeviceData

PACKAGES = ("torch", "optuna", "scikit-learn", "numpy", "scipy", "pandas")


def environment(device_data: DeviceData) -> dict[str, str]:
    """Versions of everything that shapes the numbers, and the device they were computed on."""
    return {
        "loss-search": _version("loss-search"),
        "python": platform.python_version(),
        **{name: _version(name) for name in PACKAGES},
        "device": str(device_data.device),
    }


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
