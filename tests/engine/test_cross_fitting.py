"""The cross-fitted gate: folds of the training rows, out-of-fold predictions, paired comparison."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from service.wording import comparison_summary
from workers.engine import search_losses
from workers.engine.confirmation import ConfirmationPlan, Finalist
from workers.engine.cross_fitting import (
    CrossFit,
    CrossFitPlan,
    OutOfFold,
    compare_out_of_fold,
    cross_fit,
    fold_rows,
    fold_training_rows,
)
from workers.engine.datasets import PreparedData, Split
from workers.engine.evaluation import Evaluator
from workers.engine.gate import run_gate
from workers.engine.metrics import get_metric
from workers.engine.population import MemberConfig
from workers.engine.results import Gate, Leader, Verdict
from workers.engine.spec import Task
from workers.engine.statistics import Interval, PairedComparison
from workers.engine.training import DeviceData, train_population
from workers.engine.training_plan import TrainingPlan

PLAN = TrainingPlan(batch_size=64, max_epochs=12, eval_every=1, patience=3)
GOOD = MemberConfig("cross_entropy", {}, learning_rate=3e-3, seed=0)
# Learns next to nothing in 12 epochs: its predictions are close to its random initialisation.
HOPELESS = MemberConfig("cross_entropy", {}, learning_rate=1e-7, seed=0)


def test_folds_partition_the_training_rows_and_stratify_the_classes() -> None:
    y = np.array([0] * 90 + [1] * 10, dtype=float)
    folds = fold_rows(Task.BINARY, y, 5, seed=0)
    assert folds is not None
    assert len(folds) == 5
    assert sorted(np.concatenate(folds).tolist()) == list(range(100))
    for held_out in folds:
        assert y[held_out].sum() == 2  # each fold holds its share of the minority class
        training_part = np.setdiff1d(np.arange(100), held_out)
        assert set(y[training_part]) == {0.0, 1.0}


def test_folds_shrink_to_the_smallest_class_and_vanish_when_the_rows_are_too_few() -> None:
    y = np.array([0] * 60 + [1] * 3, dtype=float)
    folds = fold_rows(Task.BINARY, y, 5, seed=0)
    assert folds is not None
    assert len(folds) == 3  # a class of 3 rows can be spread over 3 folds, no more
    assert fold_rows(Task.BINARY, np.array([0] * 60 + [1], dtype=float), 5, seed=0) is None
    assert fold_rows(Task.REGRESSION, np.arange(15, dtype=float), 5, seed=0) is None
    regression = fold_rows(Task.REGRESSION, np.arange(200, dtype=float), 5, seed=0)
    assert regression is not None
    assert len(regression) == 5


def test_each_fold_trains_on_every_row_it_does_not_hold_out_save_a_few_to_even_the_counts() -> None:
    y = np.array([0] * 83 + [1] * 17, dtype=float)
    held_outs = fold_rows(Task.BINARY, y, 5, seed=0)
    assert held_outs is not None
    trained = fold_training_rows(100, held_outs, seed=0)
    assert len({len(rows) for rows in trained}) == 1
    for rows, held_out in zip(trained, held_outs, strict=True):
        assert not set(rows) & set(held_out)
        assert len(rows) >= 100 - len(held_out) - 2


def test_a_member_on_some_rows_trains_as_it_would_alone_on_a_split_of_those_rows(
    breast_cancer: PreparedData, f1_evaluator: Evaluator
) -> None:
    rows = np.sort(np.random.default_rng(0).choice(len(breast_cancer.train), 200, replace=False))
    full = DeviceData.create(breast_cancer, torch.device("cpu"))
    train = breast_cancer.train
    subset = dataclasses.replace(
        breast_cancer, train=Split(train.X[rows], train.y[rows], train.y_true[rows])
    )
    alone = DeviceData.create(subset, torch.device("cpu"))
    on_rows = dataclasses.replace(GOOD, rows=tuple(int(r) for r in rows))
    [in_population] = train_population([on_rows], full, f1_evaluator, PLAN, keep_states=True)
    [by_itself] = train_population([GOOD], alone, f1_evaluator, PLAN, keep_states=True)
    assert in_population.score == by_itself.score
    assert in_population.state is not None
    assert by_itself.state is not None
    for ours, theirs in zip(in_population.state, by_itself.state, strict=True):
        torch.testing.assert_close(ours, theirs)


def test_members_on_every_row_and_members_on_some_rows_do_not_share_a_population(
    breast_cancer_device: DeviceData, f1_evaluator: Evaluator
) -> None:
    some = dataclasses.replace(GOOD, rows=(0, 1, 2, 3))
    with pytest.raises(ValueError, match="as many rows"):
        train_population([GOOD, some], breast_cancer_device, f1_evaluator, PLAN)


@pytest.fixture(scope="module")
def f1_evaluator(breast_cancer: PreparedData) -> Evaluator:
    return Evaluator(get_metric("f1"), {}, breast_cancer)


def test_every_training_row_gets_one_out_of_fold_prediction_per_seed(
    breast_cancer_device: DeviceData, f1_evaluator: Evaluator
) -> None:
    crossed = cross_fit(
        [GOOD, HOPELESS], f1_evaluator, breast_cancer_device, PLAN, CrossFitPlan(4, 2), 0
    )
    assert crossed is not None
    n_train = len(breast_cancer_device.data.train)
    assert sorted(crossed.rows.tolist()) == list(range(n_train))
    np.testing.assert_array_equal(
        crossed.y_true, breast_cancer_device.data.train.y_true[crossed.rows]
    )
    assert (crossed.folds, crossed.seeds_per_fold) == (4, 2)
    good, hopeless = crossed.arms
    assert (len(good.inputs), good.failed_runs) == (2, 0)
    # A run that fails in one fold (the hopeless setup can predict one class only) takes its
    # seed out of the pooled comparison: some rows would have no prediction.
    assert len(hopeless.inputs) + hopeless.failed_runs == 2
    for arm in crossed.arms:
        for labels in arm.inputs:  # f1 scores hard labels, decided at each fold's threshold
            assert labels.shape == (n_train,)
            assert set(np.unique(labels)) <= {0, 1}
    good_f1 = f1_evaluator.inputs_scorer(crossed.y_true, crossed.arms[0].inputs[0])
    assert good_f1(np.arange(n_train)) > 0.9  # out of fold, yet a well-trained model


def test_the_gate_passes_a_much_better_setup_and_turns_down_a_setup_against_itself(
    breast_cancer_device: DeviceData, f1_evaluator: Evaluator
) -> None:
    crossed = cross_fit(
        [GOOD, HOPELESS, GOOD], f1_evaluator, breast_cancer_device, PLAN, CrossFitPlan(4, 1), 0
    )
    assert crossed is not None
    better = compare_out_of_fold(crossed, 0, 1, f1_evaluator, 200, seed=0)
    assert better is not None
    assert better.lift.low > 0.05
    # The same setup on the same seeds gives the same predictions: no lift at all.
    itself = compare_out_of_fold(crossed, 0, 2, f1_evaluator, 200, seed=0)
    assert itself is not None
    assert (itself.lift.mean, itself.lift.low, itself.lift.high) == (0.0, 0.0, 0.0)


def _finalist(config: MemberConfig) -> Finalist:
    return Finalist(trial=None, config=config)  # type: ignore[arg-type]  # the gate reads config


def _validation_comparison(low: float) -> PairedComparison:
    interval = Interval(0.9, 0.8, 1.0)
    return PairedComparison(interval, interval, Interval(0.01, low, 0.02), 0.9, 100)


def test_the_gate_cross_fits_when_it_can_and_otherwise_falls_back_to_validation(
    breast_cancer_device: DeviceData, f1_evaluator: Evaluator
) -> None:
    # The validation comparison says "reliably better"; the cross-fitted one must overrule it.
    validation = _validation_comparison(low=0.005)
    args = (validation, f1_evaluator, breast_cancer_device, PLAN)
    crossed = run_gate(
        _finalist(HOPELESS),
        _finalist(GOOD),
        *args,
        ConfirmationPlan(cross_fit=CrossFitPlan(3, 1)),
        0,
    )
    assert crossed.method == "cross_fitted"
    assert (crossed.rows, crossed.folds, crossed.seeds_per_fold) == (341, 3, 1)
    assert crossed.lift is not None
    assert crossed.lift < 0
    assert not crossed.passed
    off = run_gate(
        _finalist(HOPELESS), _finalist(GOOD), *args, ConfirmationPlan(cross_fit=CrossFitPlan(0)), 0
    )
    assert off.method == "validation"
    assert (off.rows, off.folds, off.lift_interval) == (114, None, [0.005, 0.02])
    assert off.passed


def test_a_setup_without_a_complete_run_cannot_pass_the_gate(f1_evaluator: Evaluator) -> None:
    rows = np.arange(6)
    labels = np.array([0, 1, 0, 1, 0, 1])
    crossed = CrossFit(rows, labels, 2, 1, [OutOfFold([labels], 0), OutOfFold([], failed_runs=1)])
    assert compare_out_of_fold(crossed, 0, 1, f1_evaluator, 50, seed=0) is None


def test_the_summary_of_a_turned_down_leader_gives_the_gate_s_rows_folds_and_interval() -> None:
    result = search_losses("builtin:breast_cancer", target="target", metric="f1", n_trials=3)
    gate = Gate(
        method="cross_fitted",
        rows=341,
        folds=5,
        seeds_per_fold=2,
        lift=0.004,
        lift_interval=[-0.003, 0.011],
        probability_better=0.85,
        passed=False,
    )
    comparison = result.comparison.model_copy(
        update={
            "verdict": Verdict.NOT_RELIABLE,
            "leader": Leader(trial_number=1, loss="focal"),
            "gate": gate,
        }
    )
    summary = comparison_summary(result.model_copy(update={"comparison": comparison}))
    assert summary.startswith(
        "focal had the best mean validation f1, but its lift over the baseline out of fold on "
        "the 341 training rows (5 folds × 2 seeds) (+0.004, 95% interval [-0.003, +0.011]) is "
        "not reliably above zero, so the baseline (cross_entropy) is returned"
    )
