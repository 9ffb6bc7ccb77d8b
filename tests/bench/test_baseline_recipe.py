"""The baseline-recipe benchmark's arithmetic: which variant is better, signed by the metric."""

from __future__ import annotations

from typing import Any

from bench.baseline_recipe import gain, render


def result(case: str, metric: str, variant: str, test: float, seed: int = 0) -> dict[str, Any]:
    return {
        "case": case,
        "metric": metric,
        "variant": variant,
        "seed": seed,
        "test": test,
        "epochs": 10,
        "seconds": 1.0,
    }


def test_a_lower_error_is_a_gain_and_a_higher_score_is_a_gain() -> None:
    assert gain(result("concrete", "mae", "drop", 3.9), result("concrete", "mae", "x", 4.0)) > 0
    assert gain(result("yeast4", "f1", "drop", 0.3), result("yeast4", "f1", "x", 0.4)) < 0


def test_the_table_counts_each_variant_against_the_first() -> None:
    results = [
        result("concrete", "mae", "no_drop", 4.0),
        result("concrete", "mae", "drop", 3.8),
        result("yeast4", "f1", "no_drop", 0.40),
        result("yeast4", "f1", "drop", 0.40),
        result("spambase", "f1", "no_drop", 0.93),
        result("spambase", "f1", "drop", 0.92),
    ]
    text = render(results, ["no_drop", "drop"])
    assert "| concrete | 0 | 4.0000 (epoch 10) | 3.8000 (epoch 10) |" in text
    assert "| drop | 1 | 1 | 1 |" in text
