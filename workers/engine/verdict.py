"""The returned setup against the baseline, in numbers: the :class:`Comparison` of a result."""

from __future__ import annotations

import numpy as np

from workers.engine.confirmation import Finalist
from workers.engine.evaluation import Evaluator
from workers.engine.results import Comparison, Gate, Leader, Verdict
from workers.engine.statistics import PairedComparison


def compare_with_baseline(
    winner: Finalist,
    baseline: Finalist | None,
    test: PairedComparison,
    evaluator: Evaluator,
    leader: Finalist,
    on_validation: PairedComparison | None,
    gate: Gate | None,
) -> Comparison:
    """How ``winner`` compares with ``baseline``: on test (``test``) and, for the ``leader``
    (best mean validation), on validation (``on_validation``) and in the ``gate`` that decided
    whether it is returned (both None when the leader is the baseline).
    """
    if baseline is None or not baseline.completed:
        return Comparison(verdict=Verdict.NO_BASELINE)
    validation = {
        "validation_lift": _validation_lift(leader, baseline, evaluator),
        "validation_lift_interval": None
        if on_validation is None
        else [on_validation.lift.low, on_validation.lift.high],
        "leader": Leader(trial_number=leader.trial.number, loss=leader.loss),
        "gate": gate,
    }
    if winner is baseline:
        # The baseline is compared with itself: no lift, by construction.
        verdict = Verdict.BASELINE_LED if leader is baseline else Verdict.NOT_RELIABLE
        test_figures = {
            "test_lift": 0.0,
            "test_lift_interval": [0.0, 0.0],
            "probability_better": 0.0,
            "significant": False,
        }
    else:
        lift = test.lift
        if lift.low > 0:
            verdict = Verdict.BEATS_BASELINE
        elif lift.high < 0:
            verdict = Verdict.WORSE_ON_TEST
        else:
            verdict = Verdict.INCONCLUSIVE
        test_figures = {
            "test_lift": lift.mean,
            "test_lift_interval": [lift.low, lift.high],
            "probability_better": test.probability_better,
            "significant": bool(lift.low > 0 or lift.high < 0),
        }
    return Comparison.model_validate({"verdict": verdict, **validation, **test_figures})


def _validation_lift(winner: Finalist, baseline: Finalist, evaluator: Evaluator) -> float:
    sign = 1.0 if evaluator.metric.greater_is_better else -1.0
    ours, theirs = winner.validation_values(), baseline.validation_values()
    return sign * (float(np.mean(ours)) - float(np.mean(theirs)))
