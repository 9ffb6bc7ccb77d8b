"""The floor of a constrained metric, checked where it counts: on the test rows.

``recall_at_precision`` picks, on validation, the threshold with the best recall among those
whose precision reaches ``min_precision``; ``precision_at_recall`` the other way round. The
metric on test is then the recall (precision) at that threshold, but nothing guarantees that the
floor itself holds on test. This module measures the constrained quantity on test for a
finalist, with a bootstrap interval over the test rows, and says plainly whether the floor held.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from workers.engine.confirmation import Finalist, link_of
from workers.engine.datasets import Split
from workers.engine.evaluation import Evaluator, Threshold
from workers.engine.metrics import ParamValue
from workers.engine.param_values import number
from workers.engine.resampled_scores import RowScorer, resampled_scorer
from workers.engine.results import ConstraintCheck, FloorOnTest
from workers.engine.spec import Task
from workers.engine.statistics import paired_bootstrap


@dataclass(frozen=True)
class Constraint:
    """The quantity a constrained metric holds at a floor, e.g. precision >= 0.9."""

    quantity: Literal["precision", "recall"]
    floor: float


def constraint_of(metric: str, params: Mapping[str, ParamValue]) -> Constraint | None:
    """The constraint of ``metric``, or None for a metric without one."""
    if metric == "recall_at_precision":
        return Constraint("precision", number(params, "min_precision"))
    if metric == "precision_at_recall":
        return Constraint("recall", number(params, "min_recall"))
    return None


def floor_on_test(floor: float, mean: float, low: float) -> FloorOnTest:
    """``held`` if even the interval's low end reaches the floor, ``missed`` if the estimate
    itself falls short, else ``uncertain``."""
    if low >= floor:
        return FloorOnTest.HELD
    return FloorOnTest.MISSED if mean < floor else FloorOnTest.UNCERTAIN


def check_constraint(
    finalist: Finalist,
    evaluator: Evaluator,
    validation: Split,
    test: Split,
    resamples: int,
    seed: int,
) -> ConstraintCheck | None:
    """The constrained quantity of ``finalist``'s confirmation runs on validation and on test
    (mean over seeds, at each run's own validation threshold), with a 95% bootstrap interval
    over the test rows; None for a metric without a constraint or a finalist without runs."""
    constraint = constraint_of(evaluator.metric.name, evaluator.params)
    if constraint is None or evaluator.data.task is not Task.BINARY:
        return None
    link = link_of(finalist)
    runs = [
        (run.validation_outputs, run.test_outputs, run.result.score.threshold)
        for run in finalist.completed
        if run.result.score is not None
        and run.validation_outputs is not None
        and run.test_outputs is not None
    ]
    if not runs:
        return None

    def scorer(split: Split, outputs: np.ndarray, threshold: Threshold | None) -> RowScorer:
        labels = evaluator.metric_input(outputs, threshold, link)
        score = resampled_scorer(Task.BINARY, constraint.quantity, {}, split.y_true, labels)
        assert score is not None  # precision and recall have a fast path
        return score

    on_validation = [scorer(validation, outputs, threshold) for outputs, _, threshold in runs]
    on_test = [scorer(test, outputs, threshold) for _, outputs, threshold in runs]
    every_validation_row = np.arange(len(validation))
    interval = paired_bootstrap(on_test, on_test, len(test), True, resamples, seed=seed).winner
    return ConstraintCheck(
        quantity=constraint.quantity,
        floor=constraint.floor,
        validation=float(np.mean([score(every_validation_row) for score in on_validation])),
        test=interval.mean,
        test_interval=[interval.low, interval.high],
        on_test=floor_on_test(constraint.floor, interval.mean, interval.low),
    )
