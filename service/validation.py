"""Checking a job request against the catalogues and the dataset before anything is queued."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from service.errors import invalid
from service.schemas import JobCreate
from workers.engine.datasets import (
    TRAIN,
    DatasetReference,
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
from workers.engine.errors import DatasetError, SpecError
from workers.engine.metrics import check_metric_fits, get_metric
from workers.engine.space import SearchSpace
from workers.engine.spec import Family, MetricRef, SearchSpec, Task
from workers.engine.training_plan import plan_training


def build_spec(request: JobCreate, data_roots: list[Path]) -> SearchSpec:
    """The engine's spec for ``request``, or an :class:`ApiError` (422) saying what to fix."""
    metric_ref = _metric_ref(request)
    reference, columns, target, info = _inspect_dataset(request, data_roots, metric_ref.name)
    _check_split(request, data_roots, reference, columns, target, info.task)
    # Classes bound some metric parameters (top_k_accuracy's k); labels of a multilabel task
    # are not classes.
    n_classes = len(info.classes) if info.task in (Task.BINARY, Task.MULTICLASS) else None
    with _about("metric"):
        resolved_params = check_metric_fits(metric_ref, info.task, n_classes)

    families = tuple(dict.fromkeys(request.families or list(Family)))
    n_train = int(info.n_rows * 0.6)
    try:
        SearchSpace.build(
            info.task,
            metric_ref.name,
            families,
            tuple(request.losses or ()),
            request.params or {},
            default_batch_size=plan_training(n_train).batch_size,
            n_train=n_train,
        )
    except SpecError as exc:
        raise invalid(str(exc), exc.field or "families") from None

    return SearchSpec(
        dataset=request.dataset,
        target=target,
        task=info.task,
        metric=MetricRef(metric_ref.name, resolved_params),
        n_trials=request.budget.n_trials,
        families=families,
        seed=request.seed,
        timeout_s=request.budget.timeout_s,
        losses=tuple(request.losses or ()),
        overrides={k: dict(v) for k, v in (request.params or {}).items()},
        population_size=request.parallelism.population_size,
        confirmation_top_k=request.confirmation.top_k,
        confirmation_seeds=request.confirmation.seeds,
        split_column=request.split_column,
        test_dataset=request.test_dataset,
    )


def _metric_ref(request: JobCreate) -> MetricRef:
    if isinstance(request.metric, str):
        ref = MetricRef(request.metric)
    else:
        ref = MetricRef(request.metric.name, dict(request.metric.params))
    try:
        get_metric(ref.name)
    except SpecError as exc:
        raise invalid(str(exc), "metric") from None
    return ref


def _inspect_dataset(
    request: JobCreate, data_roots: list[Path], metric: str
) -> tuple[DatasetReference, list[str], tuple[str, ...], TargetInfo]:
    """Resolve the dataset, its columns and its target column(s); infer or check the task."""
    requested = (request.target,) if isinstance(request.target, str) else tuple(request.target)
    with _about("dataset"):
        reference = resolve_reference(request.dataset, data_roots)
        columns = read_columns(reference)
    with _about("target"):
        target = expand_target(columns, requested)
        check_target_columns(columns, target)
    with _about("dataset"):  # the header was readable; the rows may still not be
        values = read_frame(reference, columns=list(target))
    with _about("target"):
        info = inspect_targets(values, request.task)
        if info.task is Task.REGRESSION:
            check_target_for_metric(metric, values.iloc[:, 0].dropna().to_numpy(dtype=np.float64))
    return reference, columns, target, info


@contextmanager
def _about(field: str) -> Iterator[None]:
    """Turn an engine error raised inside the block into a 422 about ``field``."""
    try:
        yield
    except (DatasetError, SpecError) as exc:
        raise invalid(str(exc), field) from None


def _check_split(
    request: JobCreate,
    data_roots: list[Path],
    reference: DatasetReference,
    columns: list[str],
    target: tuple[str, ...],
    task: Task,
) -> None:
    """The split column has usable labels, or the test file exists with the same columns; either
    way every class keeps training rows (a necessary check: validation may still be carved out).
    """
    if request.split_column is not None and request.test_dataset is not None:
        raise invalid(
            "give either split_column or test_dataset, not both: a split column already says "
            "which rows are test rows",
            "split_column",
        )
    if request.split_column is not None:
        column = request.split_column
        try:
            check_split_column(column, columns, target)
            frame = read_frame(reference, columns=[column, *target]).dropna(subset=list(target))
            codes = assignments_from_column(frame[column], column)
            check_training_classes(task, frame[list(target)], codes == TRAIN)
        except DatasetError as exc:
            raise invalid(str(exc), "split_column") from None
    if request.test_dataset is not None:
        try:
            test_reference = resolve_reference(request.test_dataset, data_roots)
            check_test_columns(columns, read_columns(test_reference))
            own = read_frame(reference, columns=list(target))
            test = read_frame(test_reference, columns=list(target))
            # One frame, so both files' values share a dtype before they are compared.
            both = pd.concat([own, test], ignore_index=True)
            check_training_classes(task, both, np.arange(len(both)) < len(own))
            if task is Task.REGRESSION:  # test targets are scored in the same units
                check_regression_target(test.iloc[:, 0].dropna())
        except DatasetError as exc:
            raise invalid(str(exc), "test_dataset") from None
