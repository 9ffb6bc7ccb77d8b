"""From the spec a caller sends to the spec a search runs: every check, once, before any work.

:func:`plan_search` takes a :class:`~workers.engine.spec.JobSpec` as sent, resolves the dataset,
expands and checks the target, infers the task (or checks the one given), resolves the metric's
parameters, checks a split column or a separate test dataset, and builds the search space once
to prove that it is not empty. The API calls it when a job is POSTed (a failure is a 422 naming
``EngineError.field``); the notebook façade (:func:`workers.engine.search_losses`) calls it
before it trains anything; the worker runs the planned spec it is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from workers.engine.datasets import (
    TRAIN,
    DatasetReference,
    TargetInfo,
    assignments_from_column,
    check_regression_target,
    check_soft_targets,
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
from workers.engine.param_values import number
from workers.engine.space import SearchSpace
from workers.engine.spec import Family, JobSpec, MetricRef, Task
from workers.engine.training_plan import plan_training

TRAIN_SHARE = 0.6  # of all rows, under the default split: what sizes the batch and the space


def plan_search(
    spec: JobSpec,
    *,
    data_roots: Sequence[Path] = (),
    data: DatasetReference | None = None,
    test_data: DatasetReference | None = None,
) -> JobSpec:
    """``spec`` checked against its data and planned, or an :class:`EngineError` whose ``field``
    names what to fix.

    ``data`` and ``test_data`` stand for ``spec.dataset`` and ``spec.test_dataset`` when the
    caller has them already (a DataFrame); otherwise the references are resolved under
    ``data_roots``.
    """
    with about("metric"):
        get_metric(spec.metric.name)
    with about("dataset"):
        reference = data or resolve_reference(spec.dataset, list(data_roots))
        columns = read_columns(reference)
    target, info = _inspect_target(reference, columns, tuple(spec.target), spec.task, spec.metric)
    _check_split(spec, data_roots, test_data, reference, columns, target, info)
    # Classes bound some metric parameters (top_k_accuracy's k); labels of a multilabel task
    # are not classes.
    n_classes = len(info.classes) if info.task in (Task.BINARY, Task.MULTICLASS) else None
    with about("metric"):
        resolved_params = check_metric_fits(spec.metric, info.task, n_classes)
    families = list(dict.fromkeys(spec.families or Family))
    n_train = int(info.n_rows * TRAIN_SHARE)
    metric = MetricRef(name=spec.metric.name, params=resolved_params)
    with about("families"):
        space = SearchSpace.build(
            info.task,
            metric.name,
            tuple(families),
            tuple(spec.losses or ()),
            spec.params or {},
            default_batch_size=plan_training(n_train).batch_size,
            n_train=n_train,
            metric_params=resolved_params,
            soft_targets=info.soft,
        )
    searched = {name for names in space.describe().values() for name in names}
    return spec.model_copy(
        update={
            "target": list(target),
            "task": info.task,
            "metric": metric,
            "families": families,
            "params": implied_params(metric, searched, spec.params),
        }
    )


def implied_params(
    metric: MetricRef, searched: set[str], params: dict[str, dict[str, float | list[float]]] | None
) -> dict[str, dict[str, float | list[float]]] | None:
    """``params`` with what the metric settles: the pinball loss targets the pinball metric's
    quantile (a blind search over tau wastes trials and, at q = 0.99, lands 40% above the
    optimum). A value the caller gave is kept."""
    if metric.name != "pinball" or "pinball" not in searched:
        return params
    pinball = dict((params or {}).get("pinball", {}))
    if "tau" in pinball:
        return params
    pinball["tau"] = number(metric.params, "quantile")
    return {**(params or {}), "pinball": pinball}


@contextmanager
def about(field: str) -> Iterator[None]:
    """Give an engine error raised inside the block ``field``, unless it names one already."""
    try:
        yield
    except EngineError as exc:
        if exc.field is None:
            exc.field = field
        raise


def _inspect_target(
    reference: DatasetReference,
    columns: list[str],
    requested: tuple[str, ...],
    task: Task | None,
    metric: MetricRef,
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
            column = values.iloc[:, 0].dropna().to_numpy(dtype=np.float64)
            check_target_for_metric(metric.name, column)
    return target, info


def _check_split(
    spec: JobSpec,
    data_roots: Sequence[Path],
    test_data: DatasetReference | None,
    reference: DatasetReference,
    columns: list[str],
    target: tuple[str, ...],
    info: TargetInfo,
) -> None:
    """The split column has usable labels, or the test data exists with the same columns; either
    way every class keeps training rows (a necessary check: validation may still be carved out).
    """
    task = info.task
    if spec.split_column is not None and spec.test_dataset is not None:
        raise SpecError(
            "give either split_column or test_dataset, not both: a split column already says "
            "which rows are test rows",
            "split_column",
        )
    if spec.split_column is not None:
        column = spec.split_column
        with about("split_column"):
            check_split_column(column, columns, target)
            frame = read_frame(reference, columns=[column, *target]).dropna(subset=list(target))
            codes = assignments_from_column(frame[column], column)
            check_training_classes(task, frame[list(target)], codes == TRAIN)
    if spec.test_dataset is None:
        return
    with about("test_dataset"):
        test_reference = test_data or resolve_reference(spec.test_dataset, list(data_roots))
        check_test_columns(columns, read_columns(test_reference))
        own = read_frame(reference, columns=list(target))
        test = read_frame(test_reference, columns=list(target))
        if info.soft:  # test rows are scored against their distributions too
            check_soft_targets(test)
        # One frame, so both files' values share a dtype before they are compared.
        both = pd.concat([own, test], ignore_index=True)
        check_training_classes(task, both, np.arange(len(both)) < len(own))
        if task is Task.REGRESSION:  # test targets are scored in the same units
            check_regression_target(test.iloc[:, 0].dropna())
