"""From a raw frame to seeded train / validation / test arrays, preprocessed on train only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workers.engine.datasets.features import (
    checked_features,
    feature_transformer,
    is_numeric_feature,
    to_float32,
)
from workers.engine.datasets.inspection import (
    TargetInfo,
    check_target_columns,
    expand_target,
    inspect_targets,
)
from workers.engine.datasets.loading import read_frame
from workers.engine.datasets.references import DatasetReference
from workers.engine.datasets.splitting import (
    TEST,
    UNASSIGNED,
    SplitSource,
    assignments_from_column,
    check_split_column,
    check_test_columns,
    check_training_classes,
    split_rows,
)
from workers.engine.errors import DatasetError
from workers.engine.spec import Task

MIN_STRATUM = 5


@dataclass(frozen=True)
class Split:
    """Features and targets of one split.

    ``y`` is encoded for training (see PreparedData); ``y_true`` is what metrics compare against:
    integer class codes, a 0/1 label matrix, or regression targets in their own units. With soft
    targets ``y`` is the label distribution and ``y_true`` its arg-max class, which hard-label
    metrics, stratification and decision tuning use; metrics that score probabilities against
    the distribution (log loss, KL divergence) read ``y`` (see ``Evaluator.truth``).
    """

    X: np.ndarray
    y: np.ndarray
    y_true: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class PreparedData:
    """A dataset ready for training.

    Targets are encoded as: binary 0/1 floats (1 = ``classes[1]``, the larger label), multiclass
    integer codes into ``classes``, multilabel a 0/1 float matrix with one column per label
    (``classes`` are the label names), regression floats standardised with the training mean and
    standard deviation (``target_mean``, ``target_std``) so one learning-rate range suits every
    dataset; metrics undo the scaling. ``target_scale`` (the training mean of ``|y|``) is the unit
    of outputs on a log link. Multiclass soft targets (``soft_targets``) are a float matrix with
    one column per class whose rows are distributions.
    """

    task: Task
    train: Split
    validation: Split
    test: Split
    classes: list[str]
    target_mean: float = 0.0
    target_std: float = 1.0
    target_scale: float = 1.0
    summary: dict[str, Any] = field(default_factory=dict)
    soft_targets: bool = False

    @property
    def n_features(self) -> int:
        return int(self.train.X.shape[1])

    @property
    def n_outputs(self) -> int:
        """Width of the model's output layer."""
        return len(self.classes) if self.task in (Task.MULTICLASS, Task.MULTILABEL) else 1

    @property
    def train_class_counts(self) -> np.ndarray:
        """Training examples per class (per arg-max class for soft targets); for multilabel,
        positives per label."""
        if self.task is Task.MULTILABEL:
            return np.asarray(self.train.y.sum(axis=0), dtype=np.int64)
        n_classes = max(len(self.classes), 2)
        return np.bincount(self.train.y_true.astype(np.int64), minlength=n_classes)

    def to_original_units(self, outputs: np.ndarray, link: str = "identity") -> np.ndarray:
        """Regression outputs back in the target's own units (``link`` of the loss used)."""
        if link == "log":
            values: np.ndarray = np.exp(np.minimum(outputs, 50.0)) * self.target_scale
            return values
        return np.asarray(outputs * self.target_std + self.target_mean)


def prepare_dataset(
    reference: DatasetReference,
    target: tuple[str, ...],
    task: Task | None,
    seed: int,
    split: SplitSource | None = None,
) -> PreparedData:
    """Load, check, split and preprocess a dataset.

    The split is seeded and stratified where the task allows, unless ``split`` names a column
    of train / validation / test labels or a separate test file. Preprocessing is fitted on the
    training rows only.
    """
    split = split or SplitSource()
    frame, assigned = _read_with_assignments(reference, split)
    columns = [str(c) for c in frame.columns]
    target = expand_target(columns, target)
    check_target_columns(columns, target)
    if split.column is not None:
        check_split_column(split.column, columns, target)
    info = inspect_targets(frame[list(target)], task)
    keep = frame[list(target)].notna().all(axis=1).to_numpy()
    frame, assigned = frame[keep].reset_index(drop=True), assigned[keep]
    features = checked_features(
        frame.drop(columns=[*target, *([split.column] if split.column else [])])
    )
    y = _encode_target(frame[list(target)], info)
    y_true = _metric_truth(y, info)

    rows = split_rows(assigned, _strata(y_true, info.task), seed)
    training = np.zeros(len(frame), dtype=bool)
    training[rows.train] = True
    check_training_classes(info.task, frame[list(target)], training)
    train_idx, val_idx, test_idx = rows.train, rows.validation, rows.test
    transformer = feature_transformer(features)
    X_train = to_float32(transformer.fit_transform(features.iloc[train_idx]))
    X_val = to_float32(transformer.transform(features.iloc[val_idx]))
    X_test = to_float32(transformer.transform(features.iloc[test_idx]))
    if X_train.shape[1] == 0:
        raise DatasetError("no usable feature columns remain after dropping empty ones")

    mean, std, scale = _target_scaling(y[train_idx], info.task)
    if info.task is Task.REGRESSION:
        y = ((y - mean) / std).astype(np.float32)
    return PreparedData(
        task=info.task,
        train=Split(X_train, y[train_idx], y_true[train_idx]),
        validation=Split(X_val, y[val_idx], y_true[val_idx]),
        test=Split(X_test, y[test_idx], y_true[test_idx]),
        classes=info.classes,
        target_mean=mean,
        target_std=std,
        target_scale=scale,
        summary={
            **_summary(features, info, X_train.shape[1], (train_idx, val_idx, test_idx)),
            "split": split.describe(),
        },
        soft_targets=info.soft,
    )


def _metric_truth(y: np.ndarray, info: TargetInfo) -> np.ndarray:
    """What metrics compare against (see :class:`Split`): for soft targets the arg-max class."""
    if info.soft:
        codes: np.ndarray = y.argmax(axis=1).astype(np.int64)
        return codes
    return y.astype(np.int64) if info.task is not Task.REGRESSION else y


def _target_scaling(y_train: np.ndarray, task: Task) -> tuple[float, float, float]:
    """Mean, standard deviation and mean magnitude of a regression target on the training
    rows (the model learns the standardised target); identity for classification."""
    if task is not Task.REGRESSION:
        return 0.0, 1.0, 1.0
    mean = float(y_train.mean())
    std = float(y_train.std()) or 1.0
    scale = float(np.abs(y_train).mean()) or 1.0
    return mean, std, scale


def _read_with_assignments(
    reference: DatasetReference, split: SplitSource
) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows to work on and, per row, the split it was assigned to (if any)."""
    frame = read_frame(reference)
    if split.column is not None:
        check_split_column(split.column, [str(c) for c in frame.columns], ())
        return frame, assignments_from_column(frame[split.column], split.column)
    assigned = np.full(len(frame), UNASSIGNED, dtype=np.int64)
    if split.test is None:
        return frame, assigned
    test = read_frame(split.test)
    check_test_columns([str(c) for c in frame.columns], [str(c) for c in test.columns])
    if len(test) == 0:
        raise DatasetError("the test dataset has no rows")
    combined = pd.concat([frame, test[list(frame.columns)]], ignore_index=True)
    return combined, np.concatenate([assigned, np.full(len(test), TEST, dtype=np.int64)])


def _encode_target(targets: pd.DataFrame, info: TargetInfo) -> np.ndarray:
    if info.task is Task.MULTILABEL:
        return targets.astype(float).to_numpy(dtype=np.float32)
    if info.soft:
        # Renormalised: rows pass inspection within a tolerance, losses and metrics assume 1.
        matrix = targets.to_numpy(dtype=np.float64)
        distributions: np.ndarray = (matrix / matrix.sum(axis=1, keepdims=True)).astype(np.float32)
        return distributions
    values = targets.iloc[:, 0]
    if info.task is Task.REGRESSION:
        return values.to_numpy(dtype=np.float64)
    # Classes are sorted on the original values (inspect_target), so map through them.
    codes = {label: i for i, label in enumerate(info.classes)}
    encoded = np.array([codes[str(v)] for v in values], dtype=np.int64)
    return encoded.astype(np.float32) if info.task is Task.BINARY else encoded


def _strata(y: np.ndarray, task: Task) -> np.ndarray | None:
    """What to stratify the splits on: the class, or for multilabel the rarest label a row has.

    scikit-learn has no multilabel stratification; keying each row on its rarest positive label
    spreads every rare label over the three splits. Keys too rare to split join the "no label"
    stratum.
    """
    if task is Task.REGRESSION:
        return None
    if task is not Task.MULTILABEL:
        return y
    frequency = y.sum(axis=0)
    rarity = np.where(y > 0, frequency[None, :], np.inf)
    keys = np.where(np.isfinite(rarity.min(axis=1)), rarity.argmin(axis=1), -1)
    values, counts = np.unique(keys, return_counts=True)
    keys[np.isin(keys, values[counts < MIN_STRATUM])] = -1
    if np.sum(keys == -1) and np.sum(keys == -1) < MIN_STRATUM:
        # The leftover stratum itself is too small: fold it into the largest one.
        keys[keys == -1] = values[np.argmax(counts)]
    return keys


def _summary(
    features: pd.DataFrame,
    info: TargetInfo,
    n_encoded: int,
    splits: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "rows": info.n_rows,
        "rows_dropped_missing_target": info.n_missing,
        "feature_columns": features.shape[1],
        "numeric_columns": sum(is_numeric_feature(features[c]) for c in features.columns),
        "encoded_features": n_encoded,
        "split_rows": {
            "train": len(splits[0]),
            "validation": len(splits[1]),
            "test": len(splits[2]),
        },
    }
    if info.soft:
        summary["soft_targets"] = True  # class_counts then count rows by arg-max class
    if info.classes:
        counts = zip(info.classes, info.class_counts, strict=True)
        summary["class_counts"] = {str(label): int(n) for label, n in counts}
    return summary
