"""Dataset references, loading, target checks and preparation."""

from workers.engine.datasets.inspection import (
    TargetInfo,
    check_regression_target,
    check_soft_targets,
    check_target_columns,
    check_target_for_metric,
    expand_target,
    inspect_target,
    inspect_targets,
)
from workers.engine.datasets.loading import read_columns, read_frame
from workers.engine.datasets.preparation import PreparedData, Split, prepare_dataset
from workers.engine.datasets.references import (
    BUILTIN_DATASETS,
    BuiltinReference,
    DatasetReference,
    FileReference,
    FrameReference,
    resolve_reference,
)
from workers.engine.datasets.splitting import (
    TRAIN,
    SplitSource,
    assignments_from_column,
    check_split_column,
    check_test_columns,
    check_training_classes,
)

__all__ = [
    "BUILTIN_DATASETS",
    "TRAIN",
    "BuiltinReference",
    "DatasetReference",
    "FileReference",
    "FrameReference",
    "PreparedData",
    "Split",
    "SplitSource",
    "TargetInfo",
    "assignments_from_column",
    "check_regression_target",
    "check_soft_targets",
    "check_split_column",
    "check_target_columns",
    "check_target_for_metric",
    "check_test_columns",
    "check_training_classes",
    "expand_target",
    "inspect_target",
    "inspect_targets",
    "prepare_dataset",
    "read_columns",
    "read_frame",
    "resolve_reference",
]
