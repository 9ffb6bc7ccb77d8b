"""Checking a dataset's target before any work is queued: does it exist, and what task is it?"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workers.engine.errors import DatasetError
from workers.engine.spec import Task

MIN_ROWS = 20
MIN_ROWS_PER_CLASS = 5
MAX_INFERRED_CLASSES = 20
MAX_CLASSES = 200
# How far a soft target row's sum may stray from 1: distributions written as rounded decimals
# (three annotators: 0.333, 0.333, 0.333) still pass, a row of counts or scores does not.
SOFT_SUM_TOLERANCE = 0.01


@dataclass(frozen=True)
class TargetInfo:
    """What the target column holds, as far as the search needs to know."""

    task: Task
    n_rows: int
    n_missing: int
    classes: list[str] = field(default_factory=list)
    class_counts: list[int] = field(default_factory=list)
    # Multiclass with a label distribution per row (one column per class); class_counts then
    # count each row under its arg-max class.
    soft: bool = False


def expand_target(columns: list[str], target: tuple[str, ...]) -> tuple[str, ...]:
    """Target names with shell-style patterns (``label_*``) expanded against ``columns``."""
    expanded: list[str] = []
    for name in target:
        matches = fnmatch.filter(columns, name) if any(c in name for c in "*?[") else [name]
        expanded += [m for m in matches if m not in expanded]
    return tuple(expanded) if expanded else target


def check_target_columns(columns: list[str], target: tuple[str, ...]) -> None:
    """Raise if a target column is absent, naming the columns that do exist."""
    missing = [name for name in target if name not in columns]
    if missing:
        shown = ", ".join(repr(c) for c in columns[:25])
        more = f" and {len(columns) - 25} more" if len(columns) > 25 else ""
        raise DatasetError(
            f"target column {missing[0]!r} is not in the dataset; its columns are {shown}{more}"
        )
    if len(columns) <= len(target):
        raise DatasetError("the dataset has no feature columns besides the target")


def inspect_targets(targets: pd.DataFrame, requested: Task | None) -> TargetInfo:
    """Like :func:`inspect_target` for one or several target columns.

    Several columns make a multilabel task (0/1 columns), unless the task is given as
    ``multiclass``: the columns then hold soft targets, a probability distribution over the
    classes (the column names) in every row. Several columns are never inferred to be soft:
    0/1 columns whose rows each hold a single 1 would be ambiguous.
    """
    _check_single_values(targets)
    if targets.shape[1] == 1 and requested is not Task.MULTILABEL:
        return inspect_target(targets.iloc[:, 0], requested)
    if targets.shape[1] == 1:
        raise DatasetError("task 'multilabel' needs two or more 0/1 target columns")
    if requested is Task.MULTICLASS:
        return _soft_multiclass_info(targets)
    if requested not in (None, Task.MULTILABEL):
        raise DatasetError(
            f"several target columns make a multilabel task (0/1 columns) or, with task "
            f"'multiclass', soft targets (a class distribution per row), not {requested.value!r}"
        )
    return _multilabel_info(targets)


def _soft_multiclass_info(targets: pd.DataFrame) -> TargetInfo:
    """Soft targets checked (see :func:`check_soft_targets`), with enough rows of each class."""
    values = check_soft_targets(targets)
    names = [str(c) for c in targets.columns]
    if len(values) < MIN_ROWS:
        raise DatasetError(
            f"the dataset has {len(values)} rows; at least {MIN_ROWS} are needed to split it "
            "into train, validation and test"
        )
    if len(names) > MAX_CLASSES:
        raise DatasetError(f"soft targets over {len(names)} classes exceed {MAX_CLASSES}")
    counts = np.bincount(values.argmax(axis=1), minlength=len(names))
    rare = [(name, int(n)) for name, n in zip(names, counts, strict=True) if n < MIN_ROWS_PER_CLASS]
    if rare:
        # Hard-label metrics, stratified splits and class offsets work on the arg-max class.
        raise DatasetError(
            f"class {rare[0][0]!r} is the most probable class of {rare[0][1]} rows; every class "
            f"needs at least {MIN_ROWS_PER_CLASS} such rows to appear in the train, validation "
            "and test splits"
        )
    return TargetInfo(
        task=Task.MULTICLASS,
        n_rows=len(values),
        n_missing=0,
        classes=names,
        class_counts=[int(n) for n in counts],
        soft=True,
    )


def check_soft_targets(targets: pd.DataFrame) -> np.ndarray:
    """Refuse soft target columns that are not a probability distribution in every row: not
    numeric, NaN or infinite, negative, or not summing to 1; return them as a float matrix."""
    for name in targets.columns:
        if not _is_numeric(targets[name]):
            raise DatasetError(
                f"soft target column {name!r} must hold probabilities (numbers in [0, 1]); "
                f"it has type {targets[name].dtype}"
            )
    values = targets.to_numpy(dtype=np.float64)
    # A missing probability leaves the row's distribution unknown; dropping such rows silently
    # (as for one target column) would hide a broken export, so it is refused.
    _refuse_rows(~np.all(np.isfinite(values), axis=1), "a missing (NaN) or infinite probability")
    _refuse_rows(np.any(values < 0, axis=1), "a negative probability")
    sums = values.sum(axis=1)
    off = np.abs(sums - 1.0) > SOFT_SUM_TOLERANCE
    if off.any():
        first = int(np.argmax(off))
        raise DatasetError(
            f"soft targets must sum to 1 in every row (within {SOFT_SUM_TOLERANCE:g}); "
            f"{int(off.sum())} rows do not, the first (row {first}) sums to {sums[first]:.6g}"
        )
    return values


def _refuse_rows(bad: np.ndarray[Any, Any], what: str) -> None:
    if bad.any():
        raise DatasetError(
            f"soft targets must be a probability distribution in every row; {int(bad.sum())} "
            f"rows hold {what}, the first is row {int(np.argmax(bad))}"
        )


def _check_single_values(targets: pd.DataFrame) -> None:
    # A Parquet column can hold lists or records; pandas cannot even count their distinct values.
    for name in targets.columns:
        column = targets[name]
        if column.dtype == object and not column.map(pd.api.types.is_scalar).all():
            raise DatasetError(
                f"target column {name!r} holds lists or records, not single values; a target "
                "must hold numbers or labels"
            )


def _multilabel_info(targets: pd.DataFrame) -> TargetInfo:
    complete = targets.dropna()
    n_missing = len(targets) - len(complete)
    if len(complete) < MIN_ROWS:
        raise DatasetError(
            f"the dataset has {len(complete)} rows with every target value; at least {MIN_ROWS} "
            "are needed to split it into train, validation and test"
        )
    positives = []
    for name in complete.columns:
        column = complete[name]
        values = set(pd.unique(column.astype(float) if _is_numeric(column) else column))
        if not values <= {0.0, 1.0}:
            raise DatasetError(
                f"multilabel target column {name!r} must hold 0/1 (or true/false) values; it "
                f"holds {sorted(map(str, values))[:5]}"
            )
        count = int(column.astype(float).sum())
        if count in (0, len(column)):
            raise DatasetError(
                f"label {name!r} is {'never' if count == 0 else 'always'} set: "
                "there is nothing to learn for it"
            )
        positives.append(count)
    return TargetInfo(
        task=Task.MULTILABEL,
        n_rows=len(complete),
        n_missing=n_missing,
        classes=[str(c) for c in complete.columns],
        class_counts=positives,
    )


def inspect_target(values: pd.Series, requested: Task | None) -> TargetInfo:
    """Infer (or check) the task from the target values and check there is enough to learn from."""
    n_missing = int(values.isna().sum())
    values = values.dropna()
    if len(values) < MIN_ROWS:
        raise DatasetError(
            f"the dataset has {len(values)} rows with a target value; at least {MIN_ROWS} are "
            "needed to split it into train, validation and test"
        )
    task = requested or _infer_task(values)
    if task is Task.MULTILABEL:
        raise DatasetError("task 'multilabel' needs two or more 0/1 target columns")
    if task is Task.REGRESSION:
        return _regression_info(values, n_missing)
    return _classification_info(values, task, n_missing)


def _infer_task(values: pd.Series) -> Task:
    if not _is_numeric(values):
        return Task.BINARY if values.nunique() <= 2 else Task.MULTICLASS
    n_unique = values.nunique()
    integral = bool(np.all(np.mod(values.to_numpy(dtype=float), 1.0) == 0.0))
    if n_unique <= 2:
        return Task.BINARY
    if integral and n_unique <= MAX_INFERRED_CLASSES:
        return Task.MULTICLASS
    return Task.REGRESSION


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _regression_info(values: pd.Series, n_missing: int) -> TargetInfo:
    if not _is_numeric(values):
        raise DatasetError(
            f"task 'regression' needs a numeric target, but the target has type {values.dtype}"
        )
    check_regression_target(values)
    if values.nunique() < 2:
        raise DatasetError("the target is constant: there is nothing to learn")
    return TargetInfo(task=Task.REGRESSION, n_rows=len(values), n_missing=n_missing)


def check_regression_target(values: pd.Series) -> None:
    """Refuse a regression target (one column, missing values dropped) that training cannot
    standardise: infinite values, or values so large that their variance overflows."""
    _check_standardisable(values.to_numpy(dtype=np.float64), str(values.name))


def _check_standardisable(values: np.ndarray, column: str) -> None:
    # Training standardises a regression target with its mean and standard deviation (and
    # log-link losses divide by its mean magnitude): each must be a finite number, or every
    # prediction becomes NaN.
    infinite = int(np.sum(~np.isfinite(values)))
    if infinite:
        raise DatasetError(
            f"regression target column {column!r} holds {infinite} infinite values; replace "
            "them or drop those rows"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        moments = (values.mean(), values.std(), np.abs(values).mean())
    if not np.all(np.isfinite(moments)):
        largest = float(np.max(np.abs(values)))
        raise DatasetError(
            f"regression target column {column!r} holds values too large to standardise "
            f"(largest magnitude {largest:.3g}): their variance overflows; rescale the column "
            "(e.g. divide it by a power of ten)"
        )


def _classification_info(values: pd.Series, task: Task, n_missing: int) -> TargetInfo:
    counts = values.value_counts().sort_index()
    n_classes = len(counts)
    if n_classes < 2:
        raise DatasetError(
            f"the target has a single class ({_show(counts.index[0])}): "
            "a classifier needs at least two"
        )
    if task is Task.BINARY and n_classes != 2:
        raise DatasetError(
            f"task 'binary' needs exactly 2 classes, but the target has {n_classes}; "
            "use task 'multiclass'" + (" or 'regression'" if _is_numeric(values) else "")
        )
    if n_classes > MAX_CLASSES:
        raise DatasetError(
            f"the target has {n_classes} distinct values, more than the {MAX_CLASSES} classes "
            "supported; if it is a quantity, use task 'regression'"
        )
    rare = counts[counts < MIN_ROWS_PER_CLASS]
    if len(rare):
        raise DatasetError(
            f"class {_show(rare.index[0])} has {int(rare.iloc[0])} rows; every class needs at "
            f"least {MIN_ROWS_PER_CLASS} to appear in the train, validation and test splits"
        )
    return TargetInfo(
        task=task,
        n_rows=len(values),
        n_missing=n_missing,
        classes=[str(c) for c in counts.index],
        class_counts=[int(c) for c in counts.to_numpy()],
    )


def _show(label: object) -> str:
    """A class label as the user wrote it (``2``, not ``np.int64(2)``)."""
    item = getattr(label, "item", None)
    return repr(item() if callable(item) else label)


# Regression metrics defined for non-negative targets only, and why.
NON_NEGATIVE_TARGET_METRICS = {
    "poisson_deviance": "a Poisson deviance is defined for counts",
    "msle": "it compares log(1 + y)",
    "rmsle": "it compares log(1 + y)",
}


def check_target_for_metric(metric: str, values: np.ndarray) -> None:
    """Refuse targets a regression metric cannot score (``values`` in the target's units)."""
    if metric == "mape" and np.any(values == 0):
        count = int(np.sum(values == 0))
        raise DatasetError(
            f"metric 'mape' divides by the target, and {count} rows have target 0; use 'mae' "
            "or 'rmse', or drop those rows"
        )
    if metric in NON_NEGATIVE_TARGET_METRICS and np.any(values < 0):
        count, why = int(np.sum(values < 0)), NON_NEGATIVE_TARGET_METRICS[metric]
        raise DatasetError(
            f"metric {metric!r} needs non-negative targets ({why}), and {count} rows have a "
            "negative target; use 'mae' or 'rmse', or shift the target"
        )
