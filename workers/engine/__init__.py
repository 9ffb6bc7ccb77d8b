"""The search engine: a pure library (torch, numpy, optuna, scikit-learn) usable from a notebook.

It imports nothing from the web service, the queue or the ORM. The names below are its public
API; the modules behind them are private and may change::

    from workers.engine import search_losses

    result = search_losses(frame, target="label", metric="f1", n_trials=40)
    print(result.best.loss, result.comparison.verdict)  # e.g. focal beats_baseline
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workers.engine.errors import DatasetError, EngineError, NoCompletedTrials, SpecError
from workers.engine.spec import Family, JobSpec, MetricRef, Task

if TYPE_CHECKING:
    from workers.engine.library import Data, search_losses

__all__ = [
    "Data",
    "DatasetError",
    "EngineError",
    "Family",
    "JobSpec",
    "MetricRef",
    "NoCompletedTrials",
    "SpecError",
    "Task",
    "search_losses",
]

# Loaded on first use: the API imports torch-free parts of the engine (the catalogue, the
# checks) and must not pay for torch because this package's façade needs it.
_LAZY = {"Data": "workers.engine.library", "search_losses": "workers.engine.library"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
