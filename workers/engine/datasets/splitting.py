"""Which rows train, which validate, which test: seeded and stratified, or given by the user.

Three ways to split, one code path: every row carries an assignment (train, validation, test or
not yet assigned). A random split assigns nothing up front; a split column assigns what it says;
a separate test file assigns its own rows to test. Whatever is left unassigned is divided at
random, stratified where the task allows, with the job's seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from workers.engine.datasets.references import (
    BuiltinReference,
    DatasetReference,
    FileReference,
    FrameReference,
)
from workers.engine.errors import DatasetError
from workers.engine.spec import Task

TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.2

UNASSIGNED, TRAIN, VALIDATION, TEST = -1, 0, 1, 2
SPLIT_LABELS = {
    "train": TRAIN,
    "training": TRAIN,
    "validation": VALIDATION,
    "valid": VALIDATION,
    "val": VALIDATION,
    "test": TEST,
}


@dataclass(frozen=True)
class SplitSource:
    """Where the split comes from: a column of the dataset, a separate test file, or neither."""

    column: str | None = None
    test: DatasetReference | None = None

    def describe(self) -> str:
        """A short, user-facing description for the dataset summary."""
        if self.column is not None:
            return f"by column {self.column!r}"
        if isinstance(self.test, FileReference):
            return f"test rows from {self.test.path.name}"
        if isinstance(self.test, BuiltinReference):
            return f"test rows from builtin:{self.test.name}"
        if isinstance(self.test, FrameReference):
            return f"test rows from {self.test.label}"
        return "random, seeded, stratified where the task allows"


@dataclass(frozen=True)
class SplitIndices:
    """Row positions of each split."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def check_split_column(column: str, columns: list[str], target: tuple[str, ...]) -> None:
    """The split column exists and is not one of the targets."""
    if column in target:
        raise DatasetError(f"the split column {column!r} is also a target column")
    if column not in columns:
        raise DatasetError(f"the split column {column!r} is not in the dataset")


def check_test_columns(columns: list[str], test_columns: list[str]) -> None:
    """A separate test file has every column of the dataset."""
    present = set(test_columns)
    missing = [c for c in columns if c not in present]
    if missing:
        shown = ", ".join(repr(c) for c in missing[:5])
        raise DatasetError(
            f"the test dataset lacks {len(missing)} of the dataset's columns ({shown}); it must "
            "have the same columns"
        )


def assignments_from_column(values: pd.Series, column: str) -> np.ndarray:
    """Per-row split codes from a column of train / validation / test labels.

    Labels are matched case-insensitively (``val``, ``valid``, ``training`` are accepted too). The
    column must name test rows and training rows; validation rows, if none are named, are carved
    from the training rows.
    """
    text = values.astype("string").str.strip().str.lower()
    if text.isna().any():
        raise DatasetError(
            f"split column {column!r} has {int(text.isna().sum())} empty cells; every row must "
            "say train, validation or test"
        )
    unknown = sorted(set(text.unique()) - set(SPLIT_LABELS))
    if unknown:
        shown = ", ".join(repr(v) for v in unknown[:5])
        raise DatasetError(
            f"split column {column!r} holds {shown}; its values must be train, validation or test"
        )
    codes = text.map(SPLIT_LABELS).to_numpy(dtype=np.int64)
    for code, name in ((TRAIN, "train"), (TEST, "test")):
        if not np.any(codes == code):
            raise DatasetError(f"split column {column!r} marks no {name} rows")
    return codes


def split_rows(assigned: np.ndarray, strata: np.ndarray | None, seed: int) -> SplitIndices:
    """Divide the rows, honouring every assignment and splitting the unassigned ones at random.

    With nothing assigned this is the default split: 20% test, then 20% of all rows validation,
    both stratified on ``strata`` when given.
    """
    index = np.arange(len(assigned))
    test = index[assigned == TEST]
    rest = index[assigned != TEST]
    if len(test) == 0:
        rest, test = train_test_split(
            rest, test_size=TEST_FRACTION, random_state=seed, stratify=_on(strata, rest)
        )
        rest = np.asarray(rest)
    validation = rest[assigned[rest] == VALIDATION]
    if len(validation) == 0:
        # The validation share of what is left, so a random split keeps its 60/20/20 shape.
        share = VALIDATION_FRACTION / (1.0 - TEST_FRACTION)
        train, validation = train_test_split(
            rest, test_size=share, random_state=seed, stratify=_on(strata, rest)
        )
    else:
        train = rest[assigned[rest] != VALIDATION]
    if len(train) == 0:
        raise DatasetError("no rows are left to train on after the validation and test splits")
    return SplitIndices(np.asarray(train), np.asarray(validation), np.asarray(test))


def _on(strata: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    """Stratify on ``strata[rows]`` when every stratum has at least two rows to share out."""
    if strata is None:
        return None
    subset = strata[rows]
    _, counts = np.unique(subset, return_counts=True)
    return subset if counts.min() >= 2 else None


def check_training_classes(task: Task, targets: pd.DataFrame, training: np.ndarray) -> None:
    """Every class (binary, multiclass; the arg-max class for soft targets) or label
    (multilabel) must occur among the training rows.

    ``targets`` holds the raw target column(s) of every row, ``training`` marks the training rows
    (a boolean mask). A random split is stratified so this holds; a split column or a separate
    test file can break it, and a model cannot learn a class it never sees (class weights would
    divide by a zero count).
    """
    if task is Task.REGRESSION:
        return
    if task is Task.MULTILABEL:
        positives = targets.fillna(0).astype(float) > 0
        missing = [
            str(label)
            for label in targets.columns
            if positives[label].any() and not positives[label][training].any()
        ]
        what = "positive example of label"
    else:
        values = targets.iloc[:, 0]
        if targets.shape[1] > 1:  # soft targets (multiclass): each row's most probable class
            names = np.array([str(c) for c in targets.columns])
            values = pd.Series(names[targets.to_numpy(dtype=np.float64).argmax(axis=1)])
        seen = set(values[training].dropna())
        missing = [str(v) for v in sorted(set(values.dropna()) - seen)]
        what = "example of class"
    if missing:
        shown = ", ".join(repr(c) for c in missing[:5])
        raise DatasetError(
            f"the training rows have no {what} {shown}; a model cannot learn what it never "
            "sees: put some of those rows in the training split"
        )
