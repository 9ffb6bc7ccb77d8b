"""The engine in one call, for a notebook or a script: :func:`search_losses`."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import torch
from pydantic import ValidationError

from workers.engine.datasets import (
    BuiltinReference,
    DatasetReference,
    FrameReference,
    resolve_reference,
)
from workers.engine.errors import DatasetError, NoCompletedTrials, SpecError
from workers.engine.planning import about, plan_search
from workers.engine.results import SearchResult
from workers.engine.search import run_search
from workers.engine.search_context import SearchContext
from workers.engine.spec import Family, JobSpec, Task
from workers.engine.studies import make_storage

Data = pd.DataFrame | str | os.PathLike[str]
"""A DataFrame, a CSV or Parquet file's path, or ``builtin:<name>``."""


def search_losses(
    data: Data,
    *,
    target: str | Sequence[str],
    metric: str,
    metric_params: Mapping[str, float | str | Sequence[Sequence[float]]] | None = None,
    n_trials: int = 40,
    task: Task | str | None = None,
    families: Sequence[Family | str] = tuple(Family),
    losses: Sequence[str] = (),
    test_data: Data | None = None,
    split_column: str | None = None,
    seed: int = 0,
    population_size: int | None = None,
    timeout_s: float | None = None,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str = "loss-search",
    device: str | torch.device = "cpu",
) -> SearchResult:
    """Search for the training loss that best serves ``metric`` on ``data``; return the result.

    The same checks, search and honest comparison with the tuned baseline as a job of the
    service: ``result.best`` is the setup to train with (loss, parameters, learning rate,
    threshold, code), ``result.comparison.verdict`` says whether it beat the plain loss on the
    test split. ``task`` is inferred from the target unless given; ``population_size`` trains that
    many trials at once (default: as many as fit). Trials live in memory unless ``storage``
    names a database URL (or is an Optuna storage), where a later call with the same
    ``study_name`` resumes them. Raises :class:`~workers.engine.errors.EngineError` (with the
    offending argument in ``field``) for data or choices that cannot work, before any training.
    """
    reference, test_reference = _references(data, test_data)
    spec = _spec(
        dataset=_label(reference),
        test_dataset=None if test_reference is None else _label(test_reference),
        target=target,
        task=task,
        split_column=split_column,
        metric={"name": metric, "params": dict(metric_params or {})},
        budget={"n_trials": n_trials, "timeout_s": timeout_s},
        families=list(families),
        losses=list(losses) or None,
        seed=seed,
        parallelism={"population_size": population_size},
    )
    spec = plan_search(spec, data=reference, test_data=test_reference)
    context = SearchContext(
        storage=_storage(storage),
        study_name=study_name,
        data_roots=[],
        device=torch.device(device),
        deadline=time.time() + timeout_s if timeout_s else None,
        exclusive=True,  # nothing else works on this study while this call runs
        data=reference,
        test_data=test_reference,
    )
    outcome = run_search(spec, context)
    if outcome.result is None:  # only a caller's stop request ends a search without a result
        raise NoCompletedTrials("the search was stopped before it finished")
    return outcome.result


def _spec(**fields: Any) -> JobSpec:
    """The job spec of a call, or a :class:`SpecError` naming the argument at fault."""
    try:
        return JobSpec.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SpecError(f"{where}: {first['msg']}", str(first["loc"][0])) from None


def _label(reference: DatasetReference) -> str:
    """How the spec (and so the result) names the data."""
    if isinstance(reference, FrameReference):
        return f"dataframe:{reference.label}"
    if isinstance(reference, BuiltinReference):
        return f"builtin:{reference.name}"
    return reference.path.as_uri()


def _references(
    data: Data, test_data: Data | None
) -> tuple[DatasetReference, DatasetReference | None]:
    with about("data"):
        reference = _reference(data)
        if reference is None:
            raise DatasetError("no data: give a DataFrame, a file's path or builtin:<name>")
    with about("test_data"):
        return reference, _reference(test_data)


def _reference(data: Data | None) -> DatasetReference | None:
    if data is None:
        return None
    if isinstance(data, pd.DataFrame):
        return FrameReference(data)
    text = os.fspath(data)
    if text.startswith("builtin:"):
        return resolve_reference(text, [])
    # The caller's own file, wherever it is: its folder is the one data root allowed.
    path = Path(text).expanduser().absolute()
    return resolve_reference(path.name, [path.parent])


def _storage(storage: str | optuna.storages.BaseStorage | None) -> optuna.storages.BaseStorage:
    if storage is None:
        return optuna.storages.InMemoryStorage()
    if isinstance(storage, str):
        return make_storage(storage)
    return storage
