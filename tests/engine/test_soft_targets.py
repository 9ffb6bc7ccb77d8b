"""Soft targets end to end in the engine: inspection, encoding and splitting, scoring, a search.

The data is real: satimage (bench/datasets) with each pixel's class smoothed over its
neighbours (``bench.soft_targets``), so the targets are genuine distributions.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from bench.soft_targets import smoothed_satimage, target_columns
from workers.engine.datasets import (
    FileReference,
    FrameReference,
    SplitSource,
    inspect_targets,
    prepare_dataset,
)
from workers.engine.errors import DatasetError
from workers.engine.evaluation import Evaluator
from workers.engine.metrics import AGAINST_DISTRIBUTION, get_metric, metrics_for
from workers.engine.search import run_search
from workers.engine.search_context import SearchContext
from workers.engine.spec import Budget, Confirmation, Family, JobSpec, MetricRef, Task
from workers.engine.studies import make_storage


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return smoothed_satimage(rows=400, seed=0)


def targets_of(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[target_columns(frame)]


# --- inspection ----------------------------------------------------------------------------


def test_several_columns_with_task_multiclass_are_soft_targets(frame: pd.DataFrame) -> None:
    info = inspect_targets(targets_of(frame), Task.MULTICLASS)
    assert info.soft
    assert info.task is Task.MULTICLASS
    assert info.classes == target_columns(frame)
    arg_max = targets_of(frame).to_numpy().argmax(axis=1)
    assert info.class_counts == np.bincount(arg_max, minlength=6).tolist()


def test_without_a_task_several_columns_are_still_multilabel() -> None:
    one_hot = pd.DataFrame(np.eye(3)[np.arange(60) % 3], columns=["a", "b", "c"])
    assert inspect_targets(one_hot, None).task is Task.MULTILABEL
    assert inspect_targets(one_hot, Task.MULTICLASS).soft  # a one-hot row is a distribution
    with pytest.raises(DatasetError, match="0/1"):
        inspect_targets(one_hot * 0.5 + 1 / 6, None)  # soft values, but no task: not guessed


def _broken(frame: pd.DataFrame, row: int, column: int, value: float | str) -> pd.DataFrame:
    targets = targets_of(frame).copy().astype(object)
    targets.iat[row, column] = value
    return targets


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.nan, r"1 rows hold a missing \(NaN\) or infinite probability, the first is row 7"),
        (np.inf, "infinite probability"),
        (-0.2, "1 rows hold a negative probability, the first is row 7"),
        (0.9, r"must sum to 1 in every row \(within 0.01\); 1 rows do not, the first \(row 7\)"),
    ],
)
def test_rows_that_are_not_distributions_are_refused(
    frame: pd.DataFrame, value: float, message: str
) -> None:
    broken = _broken(frame, 7, 0, value)
    if value == 0.9:  # only the sum is wrong: every value stays a probability
        broken = targets_of(frame).copy()
        broken.iloc[7] = [0.9, 0.0, 0.0, 0.0, 0.0, 0.05]
    with pytest.raises(DatasetError, match=message):
        inspect_targets(broken.astype(float), Task.MULTICLASS)


def test_text_in_a_soft_target_column_and_a_rare_arg_max_class_are_refused(
    frame: pd.DataFrame,
) -> None:
    with pytest.raises(DatasetError, match="must hold probabilities"):
        inspect_targets(_broken(frame, 3, 1, "high"), Task.MULTICLASS)
    rare = pd.DataFrame({"a": [1.0] * 40 + [0.2] * 3, "b": [0.0] * 40 + [0.8] * 3})
    with pytest.raises(DatasetError, match="class 'b' is the most probable class of 3 rows"):
        inspect_targets(rare, Task.MULTICLASS)


def test_rounded_distributions_are_accepted_and_renormalised() -> None:
    thirds = pd.DataFrame({"x": np.arange(60.0), "a": 0.333, "b": 0.333, "c": 0.333})
    thirds.loc[::2, ["a", "b", "c"]] = [0.6, 0.2, 0.2]
    thirds.loc[1::4, ["a", "b", "c"]] = [0.1, 0.2, 0.7]
    thirds.loc[3::8, ["a", "b", "c"]] = [0.2, 0.7, 0.1]  # rows 7, 15, ... keep 0.333 x 3
    data = prepare_dataset(FrameReference(thirds), ("a", "b", "c"), Task.MULTICLASS, seed=0)
    np.testing.assert_allclose(data.train.y.sum(axis=1), 1.0, rtol=1e-6)


# --- encoding and splitting --------------------------------------------------------------------


def test_the_training_target_is_the_distribution_and_metrics_see_its_arg_max(
    frame: pd.DataFrame,
) -> None:
    data = prepare_dataset(FrameReference(frame), tuple(target_columns(frame)), Task.MULTICLASS, 0)
    assert data.soft_targets
    assert data.n_outputs == 6
    assert data.summary["soft_targets"] is True
    for split in (data.train, data.validation, data.test):
        assert split.y.shape == (len(split), 6)
        assert split.y.dtype == np.float32
        np.testing.assert_array_equal(split.y_true, split.y.argmax(axis=1))
    assert data.train_class_counts.tolist() == np.bincount(data.train.y_true, minlength=6).tolist()
    # Stratified on the arg-max class: each split holds each class in about the same share.
    shares = [np.bincount(s.y_true, minlength=6) / len(s) for s in (data.train, data.test)]
    np.testing.assert_allclose(shares[0], shares[1], atol=0.03)


def test_a_soft_test_file_is_checked_and_keeps_its_distributions(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    frame.iloc[:300].to_csv(tmp_path / "fit.csv", index=False)
    frame.iloc[300:].to_csv(tmp_path / "holdout.csv", index=False)
    split = SplitSource(test=FileReference(tmp_path / "holdout.csv"))
    columns = tuple(target_columns(frame))
    data = prepare_dataset(FileReference(tmp_path / "fit.csv"), columns, Task.MULTICLASS, 0, split)
    expected = frame.iloc[300:][list(columns)].to_numpy()
    np.testing.assert_allclose(np.sort(data.test.y, axis=0), np.sort(expected, axis=0), atol=1e-6)


# --- scoring -----------------------------------------------------------------------------------


def test_distribution_metrics_score_the_distribution_and_the_others_the_arg_max(
    frame: pd.DataFrame,
) -> None:
    data = prepare_dataset(FrameReference(frame), tuple(target_columns(frame)), Task.MULTICLASS, 0)
    logits = np.log(np.clip(data.validation.y.astype(np.float64), 1e-6, None))  # near the target
    for name in ("log_loss", "kl_divergence"):
        evaluator = Evaluator(get_metric(name), {}, data)
        np.testing.assert_array_equal(evaluator.truth(data.validation), data.validation.y)
    kl = Evaluator(get_metric("kl_divergence"), {}, data).score_validation(logits).value
    assert 0.0 <= kl < 1e-3  # predicting the targets themselves
    accuracy = Evaluator(get_metric("accuracy"), {}, data)
    assert accuracy.truth(data.validation) is data.validation.y_true
    assert accuracy.score_validation(logits).value == 1.0  # the arg-max is the arg-max
    macro_f1 = Evaluator(get_metric("macro_f1"), {}, data).score_validation(logits)
    assert macro_f1.value == 1.0
    assert macro_f1.threshold is not None  # class offsets tuned on the arg-max labels


@pytest.mark.parametrize("name", metrics_for(Task.MULTICLASS))
def test_every_multiclass_metric_scores_soft_targets(frame: pd.DataFrame, name: str) -> None:
    """Hard-label metrics give on soft targets exactly what they give on the arg-max labels;
    the distribution metrics score the distribution instead."""
    soft = prepare_dataset(FrameReference(frame), tuple(target_columns(frame)), Task.MULTICLASS, 0)
    hard = dataclasses.replace(
        soft,
        soft_targets=False,
        validation=dataclasses.replace(soft.validation, y=soft.validation.y_true),
    )
    logits = np.random.default_rng(0).normal(size=(len(soft.validation), 6))
    logits += 3.0 * soft.validation.y  # informative, not perfect
    metric = get_metric(name)
    given = {"costs": (1.0 - np.eye(6)).tolist()} if name == "expected_cost" else {}
    params = metric.resolve_params(given)
    on_soft = Evaluator(metric, params, soft).score_validation(logits).value
    on_hard = Evaluator(metric, params, hard).score_validation(logits).value
    assert np.isfinite(on_soft)
    if name in AGAINST_DISTRIBUTION:
        assert on_soft != pytest.approx(on_hard)
    else:
        assert on_soft == on_hard


def test_log_loss_on_soft_targets_is_not_temperature_scaled_against_the_arg_max(
    frame: pd.DataFrame,
) -> None:
    """Temperatures are fitted against hard labels: log loss on a distribution stays unscaled,
    while ece (scored on the arg-max labels) is scaled as on any multiclass job."""
    soft = prepare_dataset(FrameReference(frame), tuple(target_columns(frame)), Task.MULTICLASS, 0)
    logits = np.random.default_rng(0).normal(size=(len(soft.validation), 6))
    log_loss = Evaluator(get_metric("log_loss"), {}, soft).score_validation(logits)
    assert log_loss.temperature is None
    ece = get_metric("ece")
    assert Evaluator(ece, ece.resolve_params({}), soft).score_validation(logits).temperature


# --- a search ----------------------------------------------------------------------------------


def test_a_kl_divergence_search_on_soft_targets_completes(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    frame.to_csv(tmp_path / "soft.csv", index=False)
    spec = JobSpec(
        dataset="soft.csv",
        target=target_columns(frame),
        task=Task.MULTICLASS,
        metric=MetricRef(name="kl_divergence"),
        budget=Budget(n_trials=4),
        families=list(Family),
        confirmation=Confirmation(top_k=1, seeds=2, seeds_per_fold=2),
    )
    context = SearchContext(
        storage=make_storage(f"sqlite:///{tmp_path / 's.db'}"),
        study_name="soft",
        data_roots=[tmp_path],
        should_stop=lambda: False,
        max_population_size=4,
    )
    result = run_search(spec, context).result
    assert result is not None
    assert result.metric.name == "kl_divergence"
    assert result.dataset.soft_targets
    assert result.best.loss in {"cross_entropy", "brier", "kl_divergence"}
    assert result.baseline is not None
    assert result.baseline.loss == "cross_entropy"
    for setup in (result.best, result.baseline):
        assert setup.test is not None
        assert 0.0 < setup.test < 1.0  # a KL divergence, far below the log loss of ~1.8
    assert result.best.code is not None
    assert "soft targets (batch, classes)" in result.best.code
