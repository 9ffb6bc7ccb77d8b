"""How a search is run: where its trials live, on what device, and how the caller controls it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import torch

from workers.engine.budget import TrialBudget
from workers.engine.datasets import DatasetReference
from workers.engine.results import SearchResult
from workers.engine.trial_records import TrialLog
from workers.engine.warm_start import WarmSetup

DEFAULT_MAX_POPULATION = 32


@dataclass(frozen=True)
class SearchContext:
    """Where the search runs and how the caller controls it.

    The spec's ``population_size`` fixes how many trials train at once; ``None`` chooses it
    from the model, the data and the free memory, up to ``max_population_size``. ``budget``
    shares the trial budget between processes (default: counted from the study, for one
    process).
    """

    storage: optuna.storages.BaseStorage
    study_name: str
    data_roots: list[Path]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    should_stop: Callable[[], bool] = lambda: False
    deadline: float | None = None  # time.time() after which no new trial starts
    max_population_size: int = DEFAULT_MAX_POPULATION
    heartbeat_s: float = 10.0
    # True when no other process works on this study, so trials still marked running at the
    # start are orphans of a lost worker (fail and re-queue them at once).
    exclusive: bool = False
    budget: TrialBudget | None = None
    trial_log: TrialLog | None = None  # receives trial records as trials change
    # Data the caller already holds (a DataFrame): used instead of resolving the spec's
    # ``dataset`` and ``test_dataset`` references under ``data_roots``.
    data: DatasetReference | None = None
    test_data: DatasetReference | None = None
    # Earlier jobs' best setups, queued as the first trials after the baseline when the study
    # is created (see :mod:`workers.engine.warm_start`).
    warm_setups: Sequence[WarmSetup] = ()


@dataclass(frozen=True)
class SearchOutcome:
    """``stopped`` when the caller asked to stop; otherwise ``result`` holds the best setup."""

    stopped: bool
    result: SearchResult | None = None
