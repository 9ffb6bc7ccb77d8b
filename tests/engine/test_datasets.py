"""Datasets: resolving references safely, inspecting targets, splitting and preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workers.engine.datasets import (
    BUILTIN_DATASETS,
    BuiltinReference,
    FileReference,
    PreparedData,
    SplitSource,
    check_training_classes,
    inspect_target,
    prepare_dataset,
    resolve_reference,
)
from workers.engine.errors import DatasetError
from workers.engine.spec import Task

# --- resolve_reference -----------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A data root with one CSV in a sub-folder, and a secret file beside (outside) the root."""
    data = tmp_path / "root"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "train.csv").write_text("a,label\n1,0\n")
    (tmp_path / "secret.csv").write_text("a,label\n1,0\n")
    return data


@pytest.mark.parametrize("name", BUILTIN_DATASETS)
def test_builtin_names_resolve_to_builtin_references(name: str) -> None:
    assert resolve_reference(f"builtin:{name}", []) == BuiltinReference(name)
    assert resolve_reference(f"  builtin:{name}\n", []) == BuiltinReference(name)


def test_unknown_builtin_lists_the_builtins() -> None:
    with pytest.raises(DatasetError, match="unknown builtin dataset 'mnist'") as excinfo:
        resolve_reference("builtin:mnist", [])
    for name in BUILTIN_DATASETS:
        assert name in str(excinfo.value)


def test_relative_path_resolves_under_a_root(root: Path) -> None:
    resolved = resolve_reference("sub/train.csv", [root])
    assert resolved == FileReference((root / "sub" / "train.csv").resolve())


def test_relative_path_is_tried_under_each_root_in_order(root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    resolved = resolve_reference("sub/train.csv", [other, root])
    assert resolved == FileReference((root / "sub" / "train.csv").resolve())


def test_file_url_with_an_absolute_path_under_a_root(root: Path) -> None:
    path = (root / "sub" / "train.csv").resolve()
    assert resolve_reference(f"file://{path}", [root]) == FileReference(path)


def test_file_url_naming_a_remote_host_is_refused(root: Path) -> None:
    with pytest.raises(DatasetError, match="local path"):
        resolve_reference(f"file://example.com{root}/sub/train.csv", [root])


def test_dot_dot_traversal_out_of_the_root_is_refused(root: Path) -> None:
    assert (root / ".." / "secret.csv").is_file()
    with pytest.raises(DatasetError, match="outside the configured data roots"):
        resolve_reference("../secret.csv", [root])
    with pytest.raises(DatasetError, match="outside the configured data roots"):
        resolve_reference(f"file://{root}/sub/../../secret.csv", [root])


def test_symlink_pointing_outside_the_roots_is_refused(root: Path, tmp_path: Path) -> None:
    (root / "link.csv").symlink_to(tmp_path / "secret.csv")
    with pytest.raises(DatasetError, match="outside the configured data roots"):
        resolve_reference("link.csv", [root])


def test_symlink_pointing_inside_the_roots_is_followed(root: Path) -> None:
    (root / "alias.csv").symlink_to(root / "sub" / "train.csv")
    resolved = resolve_reference("alias.csv", [root])
    assert resolved == FileReference((root / "sub" / "train.csv").resolve())


def test_absolute_path_outside_the_roots_is_refused(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    for reference in (str(secret), f"file://{secret}"):
        with pytest.raises(DatasetError, match="outside the configured data roots"):
            resolve_reference(reference, [root])


def test_unsupported_suffix_is_refused_naming_the_supported_ones(root: Path) -> None:
    (root / "data.xlsx").write_text("")
    with pytest.raises(DatasetError, match=r"unsupported file type.*\.csv.*\.parquet"):
        resolve_reference("data.xlsx", [root])


def test_missing_file_is_reported_as_not_found(root: Path) -> None:
    with pytest.raises(DatasetError, match=r"'sub/absent\.csv' was not found"):
        resolve_reference("sub/absent.csv", [root])


def test_other_schemes_empty_references_and_no_roots_are_refused(root: Path) -> None:
    with pytest.raises(DatasetError, match="scheme 's3' are not supported"):
        resolve_reference("s3://bucket/data.csv", [root])
    with pytest.raises(DatasetError, match="empty"):
        resolve_reference("   ", [root])
    with pytest.raises(DatasetError, match="no data roots"):
        resolve_reference("sub/train.csv", [])


# --- inspect_target --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([0, 1] * 15),
        pd.Series([0.0, 1.0] * 15),
        pd.Series(["no", "yes", "yes"] * 10),
        pd.Series([True, False] * 15),
    ],
    ids=["int", "float", "str", "bool"],
)
def test_two_distinct_values_infer_binary(values: pd.Series) -> None:
    info = inspect_target(values, None)
    assert info.task is Task.BINARY
    assert len(info.classes) == 2
    assert sum(info.class_counts) == 30


def test_few_integer_or_any_string_classes_infer_multiclass() -> None:
    info = inspect_target(pd.Series([0, 1, 2, 3] * 8), None)
    assert info.task is Task.MULTICLASS
    assert info.classes == ["0", "1", "2", "3"]
    assert info.class_counts == [8, 8, 8, 8]
    assert inspect_target(pd.Series(["a", "b", "c"] * 8), None).task is Task.MULTICLASS


def test_fractional_or_many_distinct_numbers_infer_regression() -> None:
    rng = np.random.default_rng(0)
    assert inspect_target(pd.Series(rng.normal(size=50)), None).task is Task.REGRESSION
    many_integers = pd.Series(np.arange(50) % 25)  # 25 distinct integers, over the class limit
    assert inspect_target(many_integers, None).task is Task.REGRESSION


def test_a_single_class_cannot_be_learned() -> None:
    with pytest.raises(DatasetError, match="single class"):
        inspect_target(pd.Series([1] * 30), None)
    with pytest.raises(DatasetError, match="single class"):
        inspect_target(pd.Series([1] * 30), Task.BINARY)


def test_binary_requested_for_three_classes_is_refused() -> None:
    with pytest.raises(DatasetError, match="exactly 2 classes, but the target has 3"):
        inspect_target(pd.Series([0, 1, 2] * 10), Task.BINARY)


def test_too_few_rows_with_a_target_are_refused() -> None:
    with pytest.raises(DatasetError, match="19 rows"):
        inspect_target(pd.Series([0, 1] * 9 + [0]), None)
    # Missing targets do not count towards the minimum.
    with pytest.raises(DatasetError, match="18 rows"):
        inspect_target(pd.Series([0, 1] * 9 + [None] * 10), None)


def test_a_class_with_fewer_than_five_rows_is_refused() -> None:
    values = pd.Series(["a"] * 20 + ["b"] * 20 + ["rare"] * 4)
    with pytest.raises(DatasetError, match="class 'rare' has 4 rows"):
        inspect_target(values, None)


def test_missing_targets_are_counted() -> None:
    info = inspect_target(pd.Series([0, 1] * 15 + [np.nan] * 3), None)
    assert (info.n_rows, info.n_missing) == (30, 3)


# --- prepare_dataset -------------------------------------------------------------------------


def classification_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Numeric and string features with gaps, and a 30% positive label."""
    rng = np.random.default_rng(seed)
    label = np.zeros(n, dtype=np.int64)
    label[rng.permutation(n)[: int(0.3 * n)]] = 1
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n) + label,
            "skewed": rng.exponential(scale=5.0, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "label": label,
        }
    )
    frame.loc[rng.choice(n, 15, replace=False), "x"] = np.nan
    frame.loc[rng.choice(n, 15, replace=False), "colour"] = None
    return frame


def prepare_frame(
    frame: pd.DataFrame,
    directory: Path,
    *,
    target: str = "label",
    task: Task | None = None,
    seed: int = 0,
    name: str = "data.csv",
) -> PreparedData:
    path = directory / name
    if name.lower().endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return prepare_dataset(resolve_reference(name, [directory]), (target,), task, seed)


def all_splits(data: PreparedData) -> list[np.ndarray]:
    splits = (data.train, data.validation, data.test)
    return [a for s in splits for a in (s.X, s.y, s.y_true)]


def test_splits_are_60_20_20(tmp_path: Path) -> None:
    data = prepare_frame(classification_frame(200), tmp_path)
    sizes = (len(data.train), len(data.validation), len(data.test))
    assert sizes == (120, 40, 40)
    assert data.summary["split_rows"] == {"train": 120, "validation": 40, "test": 40}
    assert data.summary["rows"] == 200


def test_stratified_splits_keep_the_class_ratio(tmp_path: Path) -> None:
    data = prepare_frame(classification_frame(200), tmp_path)
    assert data.task is Task.BINARY
    for split in (data.train, data.validation, data.test):
        positives = int(split.y_true.sum())
        assert abs(positives - 0.3 * len(split)) <= 1, (positives, len(split))


def test_same_seed_same_split_different_seed_different_split(tmp_path: Path) -> None:
    frame = classification_frame(200)
    first = prepare_frame(frame, tmp_path, seed=7)
    again = prepare_frame(frame, tmp_path, seed=7)
    other = prepare_frame(frame, tmp_path, seed=8)
    for a, b in zip(all_splits(first), all_splits(again), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.test.X, other.test.X)


def test_csv_and_parquet_give_the_same_data(tmp_path: Path) -> None:
    frame = classification_frame(120)
    from_csv = prepare_frame(frame, tmp_path, name="data.csv")
    from_parquet = prepare_frame(frame, tmp_path, name="data.parquet")
    for a, b in zip(all_splits(from_csv), all_splits(from_parquet), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_string_columns_are_one_hot_encoded_and_gaps_imputed(tmp_path: Path) -> None:
    data = prepare_frame(classification_frame(200), tmp_path)
    # x and skewed stay one column each; colour becomes red / green / blue indicators.
    assert data.n_features == 5
    assert data.summary["encoded_features"] == 5
    assert data.summary["numeric_columns"] == 2
    for split in (data.train, data.validation, data.test):
        assert split.X.dtype == np.float32
        assert not np.isnan(split.X).any()
        one_hot = split.X[:, 2:]
        assert set(np.unique(one_hot)) <= {0.0, 1.0}
        np.testing.assert_array_equal(one_hot.sum(axis=1), 1.0)


def test_the_scaler_is_fitted_on_the_training_split_only(tmp_path: Path) -> None:
    n = 200
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "row_id": np.arange(n, dtype=np.float64),  # lets the test find each row again
            "skewed": rng.exponential(scale=5.0, size=n),
            "label": rng.permutation(np.arange(n) % 2),
        }
    )
    data = prepare_frame(frame, tmp_path)
    # Scaling is increasing and affine, so the rank of a scaled row_id among all rows is the id.
    scaled_ids = np.concatenate([data.train.X[:, 0], data.validation.X[:, 0], data.test.X[:, 0]])
    ids = np.empty(n, dtype=np.int64)
    ids[np.argsort(scaled_ids)] = np.arange(n)
    train_ids = ids[: len(data.train)]
    val_ids = ids[len(data.train) : len(data.train) + len(data.validation)]

    raw = frame["skewed"].to_numpy()
    mean, std = raw[train_ids].mean(), raw[train_ids].std()
    np.testing.assert_allclose(data.train.X.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.train.X.std(axis=0), 1.0, atol=1e-5)
    np.testing.assert_allclose(data.validation.X[:, 1], (raw[val_ids] - mean) / std, atol=1e-5)
    assert abs(data.validation.X[:, 1].mean()) > 1e-3  # not re-centred on validation
    fitted_on_all = (raw[val_ids] - raw.mean()) / raw.std()
    assert not np.allclose(data.validation.X[:, 1], fitted_on_all, atol=1e-5)


def test_regression_targets_are_standardised_on_train_and_invertible(tmp_path: Path) -> None:
    n = 150
    rng = np.random.default_rng(4)
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "price": 1000.0 + 250.0 * x + rng.normal(scale=30.0, size=n)})
    data = prepare_frame(frame, tmp_path, target="price")
    assert data.task is Task.REGRESSION
    assert data.classes == []
    assert data.n_outputs == 1
    assert data.train.y.mean() == pytest.approx(0.0, abs=1e-5)
    assert data.train.y.std() == pytest.approx(1.0, abs=1e-5)
    assert data.target_mean == pytest.approx(data.train.y_true.mean())
    assert data.target_std == pytest.approx(data.train.y_true.std())
    for split in (data.train, data.validation, data.test):
        np.testing.assert_allclose(data.to_original_units(split.y), split.y_true, rtol=1e-5)
    assert abs(data.validation.y.mean()) > 1e-3  # validation uses the training statistics


def test_binary_labels_encode_the_larger_label_as_positive(tmp_path: Path) -> None:
    frame = classification_frame(100)
    frame["label"] = np.where(frame["label"] == 1, "yes", "no")
    data = prepare_frame(frame, tmp_path)
    assert data.classes == ["no", "yes"]
    assert data.train.y.dtype == np.float32
    assert data.train.y_true.dtype == np.int64
    np.testing.assert_array_equal(data.train.y, data.train.y_true)
    assert data.train_class_counts.tolist() == [
        int((data.train.y_true == 0).sum()),
        int((data.train.y_true == 1).sum()),
    ]


def test_rows_with_a_missing_target_are_dropped_and_counted(tmp_path: Path) -> None:
    frame = classification_frame(110)
    frame.loc[frame.index[:10], "label"] = np.nan
    data = prepare_frame(frame, tmp_path)
    assert data.summary["rows"] == 100
    assert data.summary["rows_dropped_missing_target"] == 10
    assert len(data.train) + len(data.validation) + len(data.test) == 100
    assert data.classes == ["0.0", "1.0"]


def test_a_missing_target_column_names_the_columns_that_exist(tmp_path: Path) -> None:
    frame = classification_frame(60)
    frame.to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(DatasetError, match=r"'outcome' is not in the dataset.*'colour'"):
        prepare_dataset(resolve_reference("data.csv", [tmp_path]), ("outcome",), None, 0)


# Found while writing these tests: user-fixable data problems that do not surface as a clear
# DatasetError.


def test_an_upper_case_parquet_suffix_is_read_as_parquet(tmp_path: Path) -> None:
    # The suffix check accepts ".PARQUET" case-insensitively, so reading must agree.
    classification_frame(60).to_parquet(tmp_path / "DATA.PARQUET")
    reference = resolve_reference("DATA.PARQUET", [tmp_path])
    data = prepare_dataset(reference, ("label",), None, 0)
    assert len(data.train) == 36


def test_infinite_feature_values_are_a_dataset_error_not_a_crash(tmp_path: Path) -> None:
    frame = classification_frame(60)
    frame.loc[3, "skewed"] = np.inf
    with pytest.raises(DatasetError, match="skewed"):
        prepare_frame(frame, tmp_path)


def test_class_labels_in_messages_are_written_as_in_the_data() -> None:
    with pytest.raises(DatasetError, match=r"^class 2 has 4 rows"):
        inspect_target(pd.Series([0] * 20 + [1] * 20 + [2] * 4), None)
    with pytest.raises(DatasetError, match=r"single class \(3\)"):
        inspect_target(pd.Series([3] * 30), None)


# --- user-given splits -------------------------------------------------------------------------


def prepare_with_split(
    frame: pd.DataFrame, directory: Path, split: SplitSource, seed: int = 0
) -> PreparedData:
    frame.to_csv(directory / "data.csv", index=False)
    return prepare_dataset(
        resolve_reference("data.csv", [directory]), ("label",), None, seed, split
    )


def test_a_split_column_decides_every_row(tmp_path: Path) -> None:
    frame = classification_frame(200)
    frame["fold"] = ["Train"] * 110 + ["validation"] * 30 + ["TEST"] * 60
    data = prepare_with_split(frame, tmp_path, SplitSource(column="fold"))
    assert (len(data.train), len(data.validation), len(data.test)) == (110, 30, 60)
    assert data.n_features == prepare_frame(classification_frame(200), tmp_path).n_features
    # Rows keep their order inside each split, so the test split is exactly the last 60 rows.
    np.testing.assert_array_equal(data.test.y_true, frame["label"].to_numpy()[140:])
    assert data.summary["split"] == "by column 'fold'"
    # The same split whatever the seed: the user chose it.
    again = prepare_with_split(frame, tmp_path, SplitSource(column="fold"), seed=7)
    np.testing.assert_array_equal(again.test.X, data.test.X)


def test_without_validation_rows_validation_is_carved_from_train(tmp_path: Path) -> None:
    frame = classification_frame(200)
    frame["fold"] = ["train"] * 160 + ["test"] * 40
    data = prepare_with_split(frame, tmp_path, SplitSource(column="fold"))
    assert (len(data.train), len(data.validation), len(data.test)) == (120, 40, 40)
    np.testing.assert_array_equal(data.test.y_true, frame["label"].to_numpy()[160:])


@pytest.mark.parametrize(
    ("labels", "fragment"),
    [
        (["train"] * 150 + ["holdout"] * 50, "'holdout'"),
        (["train"] * 150 + ["validation"] * 50, "marks no test rows"),
        (["test"] * 200, "marks no train rows"),
        (["train"] * 150 + [None] * 50, "empty cells"),
    ],
)
def test_a_split_column_must_say_train_validation_or_test(
    tmp_path: Path, labels: list[str | None], fragment: str
) -> None:
    frame = classification_frame(200)
    frame["fold"] = labels
    with pytest.raises(DatasetError, match=fragment):
        prepare_with_split(frame, tmp_path, SplitSource(column="fold"))


def test_a_separate_test_file_supplies_the_test_rows(tmp_path: Path) -> None:
    train_frame, test_frame = classification_frame(200, seed=1), classification_frame(50, seed=2)
    test_frame.to_csv(tmp_path / "holdout.csv", index=False)
    test_reference = resolve_reference("holdout.csv", [tmp_path])
    data = prepare_with_split(train_frame, tmp_path, SplitSource(test=test_reference))
    assert (len(data.train), len(data.validation), len(data.test)) == (150, 50, 50)
    np.testing.assert_array_equal(data.test.y_true, test_frame["label"].to_numpy())
    assert data.summary["split"] == "test rows from holdout.csv"


def test_a_test_file_must_have_the_dataset_columns(tmp_path: Path) -> None:
    classification_frame(50).drop(columns=["skewed"]).to_csv(tmp_path / "holdout.csv", index=False)
    test_reference = resolve_reference("holdout.csv", [tmp_path])
    with pytest.raises(DatasetError, match="lacks 1 of the dataset's columns"):
        prepare_with_split(classification_frame(200), tmp_path, SplitSource(test=test_reference))


def test_a_split_that_leaves_a_class_out_of_training_is_refused(tmp_path: Path) -> None:
    frame = classification_frame(200)
    frame["label"] = [0] * 150 + [1] * 50
    frame["fold"] = ["train"] * 120 + ["validation"] * 30 + ["test"] * 50
    with pytest.raises(DatasetError, match="no example of class '1'"):
        prepare_with_split(frame, tmp_path, SplitSource(column="fold"))


def test_every_label_needs_a_positive_among_the_training_rows() -> None:
    targets = pd.DataFrame({"label_a": [1, 0, 1, 0], "label_b": [0, 0, 0, 1]})
    training = np.array([True, True, True, False])
    with pytest.raises(DatasetError, match="no positive example of label 'label_b'"):
        check_training_classes(Task.MULTILABEL, targets, training)
    check_training_classes(Task.MULTILABEL, targets, np.ones(4, dtype=bool))  # all present
    check_training_classes(Task.REGRESSION, targets, training)  # nothing to check
