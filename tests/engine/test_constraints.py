"""A constrained metric's floor is checked on test, not only assumed from validation."""

from __future__ import annotations

import pytest

from service.wording import comparison_summary, constraint_sentence
from workers.engine import search_losses
from workers.engine.constraints import Constraint, constraint_of, floor_on_test
from workers.engine.results import ConstraintCheck, FloorOnTest


def test_the_floor_held_only_when_the_whole_interval_reaches_it() -> None:
    assert floor_on_test(0.9, mean=0.95, low=0.91) is FloorOnTest.HELD
    assert floor_on_test(0.9, mean=0.92, low=0.85) is FloorOnTest.UNCERTAIN
    assert floor_on_test(0.9, mean=0.88, low=0.80) is FloorOnTest.MISSED


def test_each_constrained_metric_names_the_other_side_of_its_trade_off() -> None:
    assert constraint_of("recall_at_precision", {"min_precision": 0.8}) == Constraint(
        "precision", 0.8
    )
    assert constraint_of("precision_at_recall", {"min_recall": 0.7}) == Constraint("recall", 0.7)
    assert constraint_of("f1", {}) is None


def test_a_recall_at_precision_result_reports_test_precision_against_its_floor() -> None:
    result = search_losses(
        "builtin:breast_cancer",
        target="target",
        metric="recall_at_precision",
        metric_params={"min_precision": 0.97},
        n_trials=4,
        population_size=4,
    )
    for setup in [result.best, result.baseline]:
        assert setup is not None
        check = setup.constraint
        assert check is not None
        assert (check.quantity, check.floor) == ("precision", 0.97)
        low, high = check.test_interval
        assert 0.0 <= low <= check.test <= high <= 1.0
        assert check.on_test is floor_on_test(0.97, check.test, low)
    summary = comparison_summary(result)
    assert "precision floor of 0.97" in summary
    assert f"{result.best.constraint.test:.3g} on test" in summary  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("on_test", "words"),
    [
        (FloorOnTest.HELD, "held on test"),
        (FloorOnTest.UNCERTAIN, "may not hold on new data"),
        (FloorOnTest.MISSED, "did NOT hold on test"),
    ],
)
def test_the_summary_says_plainly_whether_the_floor_held(on_test: FloorOnTest, words: str) -> None:
    check = ConstraintCheck(
        quantity="precision",
        floor=0.8,
        validation=0.82,
        test=0.78,
        test_interval=[0.71, 0.85],
        on_test=on_test,
    )
    sentence = constraint_sentence(check)
    assert words in sentence
    assert "0.78 on test (95% interval [0.71, 0.85])" in sentence
