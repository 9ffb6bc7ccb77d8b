"""From what a caller asks for to the spec a search runs: every check, once, before any work.

:func:`plan_search` resolves the dataset, expands and checks the target, infers the task (or
checks the one given), resolves the metric's parameters, checks a split column or a separate
test dataset, and builds the search space once to prove that it is not empty. The API calls it
when a job is POSTed (a failure is a 422 naming ``EngineError.field``); the notebook façade
(:func:`workers.engine.search_losses`) calls it before it trains anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from workers.engine.datasets import (
    TRAIN,
    BuiltinReference,
    DatasetReference,
    FrameReference,
    TargetInfo,
    assignments_from_column,
    check_regression_target,
    check_split_column,
    check_target_columns,
    check_target_for_metric,
    check_test_columns,
    check_training_classes,
    expand_target,
    inspect_targets,
    read_columns,
    read_frame,
    resolve_reference,
)
from workers.engine.errors import EngineError, SpecError
from workers.engine.metrics import check_metric_fits, get_metric
from workers.engine.space import SearchSpace
from workers.engine.spec import Family, MetricRef, SearchSpec, Task
from workers.engine.training_plan import plan_training

TRAIN_SHARE = 0.6  # of all rows, under the default split: what sizes the batch and the space


@dataclass(frozen=True)
class SearchChoices:
    """What the caller chose beyond data, target and metric; the defaults are the service's."""

    n_trials: int = 40
    families: Sequence[Family] = tuple(Family)
    losses: Sequence[str] = ()
    overrides: Mapping[str, Mapping[str, float | list[float]]] = field(default_factory=dict)
    seed: int = 0
    timeout_s: float | None = None
    population_size: int | None = None
    confirmation_top_k: int = 3
    confirmation_seeds: int = 5


@dataclass(frozen=True)
class DataChoice:
    """The data: a reference (text, as in a job) or a resolved one (a caller's DataFrame), and
    how its rows split into train, validation and test."""

    dataset: str | DatasetReference
    split_column: str | None = None
    test_dataset: str | DatasetReference | None = None


def plan_search(
    data: DataChoice,
    target: Sequence[str],
    metric: MetricRef,
    *,
    task: Task | None = None,
    choices: SearchChoices | None = None,
    data_roots: Sequence[Path] = (),
) -> SearchSpec:
    """The checked spec, or an :class:`EngineError` whose ``field`` names what to fix."""
    choices = choices or SearchChoices()
    with about("metric"):
        get_metric(metric.name)
    with about("dataset"):
        reference = _resolve(data.dataset, data_roots)
        columns = read_columns(reference)
    target, info = _inspect_target(reference, columns, tuple(target), task, metric.name)
    test_reference = _check_split(data, data_roots, reference, columns, target, info.task)
    # Classes bound some metric parameters (top_k_accuracy's k); labels of a multilabel task
    # are not classes.
    n_classes = len(info.classes) if info.task in (Task.BINARY, Task.MULTICLASS) else None
    with about("metric"):
        resolved_params = check_metric_fits(metric, info.task, n_classes)
    families = tuple(dict.fromkeys(choices.families))
    overrides = {name: dict(values) for name, values in choices.overrides.items()}
    n_train = int(info.n_rows * TRAIN_SHARE)
    with about("families"):
        SearchSpace.build(
            info.task,
            metric.name,
            families,
            tuple(choices.losses),
            overrides,
            default_batch_size=plan_training(n_train).batch_size,
            n_train=n_train,
        )
    return SearchSpec(
        dataset=_label(data.dataset) or "",
        target=target,
        task=info.task,
        metric=MetricRef(metric.name, resolved_params),
        n_trials=choices.n_trials,
        families=families,
        seed=choices.seed,
        timeout_s=choices.timeout_s,
        losses=tuple(choices.losses),
        overrides=overrides,
        population_size=choices.population_size,
        confirmation_top_k=choices.confirmation_top_k,
        confirmation_seeds=choices.confirmation_seeds,
        split_column=data.split_column,
        test_dataset=None if test_reference is None else _label(data.test_dataset),
    )


@contextmanager
def about(field: str) -> Iterator[None]:
    """Give an engine error raised inside the block ``field``, unless it names one already."""
    try:
        yield
    except EngineError as exc:
        if exc.field is None:
            exc.field = field
        raise


def _resolve(dataset: str | DatasetReference, data_roots: Sequence[Path]) -> DatasetReference:
    return resolve_reference(dataset, list(data_roots)) if isinstance(dataset, str) else dataset


def _label(dataset: str | DatasetReference | None) -> str | None:
    """How the spec (and so the result) names the data."""
    if dataset is None or isinstance(dataset, str):
        return dataset
    if isinstance(dataset, FrameReference):
        return f"dataframe:{dataset.label}"
    if isinstance(dataset, BuiltinReference):
        return f"builtin:{dataset.name}"
    return dataset.path.as_uri()


def _inspect_target(
    reference: DatasetReference,
    columns: list[str],
    requested: tuple[str, ...],
    task: Task | None,
    metric: str,
) -> tuple[tuple[str, ...], TargetInfo]:
    """The target column(s), expanded from patterns and checked; the task inferred or checked."""
    with about("target"):
        target = expand_target(columns, requested)
        check_target_columns(columns, target)
    with about("dataset"):  # the header was readable; the rows may still not be
        values = read_frame(reference, columns=list(target))
    with about("target"):
        info = inspect_targets(values, task)
        if info.task is Task.REGRESSION:
            check_target_for_metric(metric, values.iloc[:, 0].dropna().to_numpy(dtype=np.float64))
    return target, info


def _check_split(
    data: DataChoice,
    data_roots: Sequence[Path],
    reference: DatasetReference,
    columns: list[str],
    target: tuple[str, ...],
    task: Task,
) -> DatasetReference | None:
    """The split column has usable labels, or the test data exists with the same columns; either
    way every class keeps training rows (a necessary check: validation may still be carved out).
    Returns the test data's reference, if there is one."""
    if data.split_column is not None and data.test_dataset is not None:
        raise SpecError(
            "give either split_column or test_dataset, not both: a split column already says "
            "which rows are test rows",
            "split_column",
        )
    if data.split_column is not None:
        column = data.split_column
        with about("split_column"):
            check_split_column(column, columns, target)
            frame = read_frame(reference, columns=[column, *target]).dropna(subset=list(target))
            codes = assignments_from_column(frame[column], column)
            check_training_classes(task, frame[list(target)], codes == TRAIN)
    if data.test_dataset is None:
        return None
    with about("test_dataset"):
        test_reference = _resolve(data.test_dataset, data_roots)
        check_test_columns(columns, read_columns(test_reference))
        own = read_frame(reference, columns=list(target))
        test = read_frame(test_reference, columns=list(target))
        # One frame, so both files' values share a dtype before they are compared.
        both = pd.concat([own, test], ignore_index=True)
        check_training_classes(task, both, np.arange(len(both)) < len(own))
        if task is Task.REGRESSION:  # test targets are scored in the same units
            check_regression_target(test.iloc[:, 0].dropna())
    return test_reference
