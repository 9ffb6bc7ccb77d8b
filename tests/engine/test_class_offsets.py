"""Per-class logit offsets: multiclass decisions tuned on validation for metrics that weigh
classes, scored exactly as scikit-learn scores the decisions they make."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from workers.engine.class_offsets import (
    COUNT_METRICS,
    best_offset,
    decide,
    tune_class_offsets,
)
from workers.engine.metrics import OFFSET_TUNED, get_metric
from workers.engine.spec import Task

SKLEARN = {
    "macro_f1": lambda y, p: f1_score(y, p, average="macro", zero_division=0.0),
    "weighted_f1": lambda y, p: f1_score(y, p, average="weighted", zero_division=0.0),
    "balanced_accuracy": balanced_accuracy_score,
}


def skewed_problem(seed: int, n_rows: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Four classes, the last two rare, with logits biased towards the frequent ones (as a
    model trained with plain cross-entropy on imbalanced data tends to be)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(4, size=n_rows, p=[0.55, 0.3, 0.1, 0.05])
    logits = rng.normal(size=(n_rows, 4)) + 1.5 * np.eye(4)[y]
    logits += np.array([1.0, 0.5, -0.5, -1.0])
    return y, logits


def test_every_offset_tuned_metric_has_a_count_formula() -> None:
    assert set(COUNT_METRICS) == OFFSET_TUNED


@pytest.mark.parametrize("name", sorted(OFFSET_TUNED))
def test_multiclass_decisions_are_tuned_for_metrics_that_weigh_classes(name: str) -> None:
    assert get_metric(name).depends_on_threshold(Task.MULTICLASS)


@pytest.mark.parametrize("name", ["accuracy", "mcc", "log_loss", "top_k_accuracy"])
def test_other_multiclass_metrics_keep_the_raw_arg_max(name: str) -> None:
    assert not get_metric(name).depends_on_threshold(Task.MULTICLASS)


@pytest.mark.parametrize("name", sorted(OFFSET_TUNED))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_tuned_value_is_scikit_learn_s_value_of_the_decisions_it_makes(
    name: str, seed: int
) -> None:
    y, logits = skewed_problem(seed)
    tuned = tune_class_offsets(name, y, logits)
    predicted = decide(logits, tuned.offsets)
    assert tuned.value == pytest.approx(SKLEARN[name](y, predicted), abs=1e-12)
    assert tuned.value >= SKLEARN[name](y, logits.argmax(1))
    assert sum(tuned.offsets) == pytest.approx(0.0, abs=1e-9)  # centred: arg-max is shift-free


def test_offsets_favour_the_rare_classes_an_imbalanced_model_neglects() -> None:
    y, logits = skewed_problem(0, n_rows=2000)
    tuned = tune_class_offsets("macro_f1", y, logits)
    raw = SKLEARN["macro_f1"](y, logits.argmax(1))
    assert tuned.value > raw + 0.03
    assert tuned.offsets[3] > tuned.offsets[0]
    assert tuned.offsets[2] > tuned.offsets[0]


@pytest.mark.parametrize("name", sorted(OFFSET_TUNED))
@pytest.mark.parametrize("c", [0, 2, 3])
def test_one_class_sweep_finds_the_best_of_every_offset_for_that_class(name: str, c: int) -> None:
    # Brute force: every distinct decision for class c's offset, scored by scikit-learn.
    y, logits = skewed_problem(5, n_rows=150)
    truth = np.eye(4)[y]
    change, value = best_offset(COUNT_METRICS[name], logits, c, truth, truth.sum(0))
    rivals = np.delete(logits, c, axis=1).max(1)
    gaps = np.unique(rivals - logits[:, c])
    candidates = np.concatenate([[gaps[0] - 1], (gaps[1:] + gaps[:-1]) / 2, [gaps[-1] + 1]])
    brute = []
    for candidate in candidates:
        shift = np.zeros(4)
        shift[c] = candidate
        brute.append(SKLEARN[name](y, decide(logits, shift)))
    assert value == pytest.approx(max(brute), abs=1e-12)
    shift = np.zeros(4)
    shift[c] = change
    assert SKLEARN[name](y, decide(logits, shift)) == pytest.approx(value, abs=1e-12)


def test_well_separated_classes_keep_the_raw_arg_max() -> None:
    y = np.array([0, 1, 2] * 20)
    logits = 5.0 * np.eye(3)[y]
    tuned = tune_class_offsets("macro_f1", y, logits)
    assert tuned.value == 1.0
    assert tuned.offsets == (0.0, 0.0, 0.0)
