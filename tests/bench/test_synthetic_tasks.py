"""The synthetic tasks of the gate's calibration are seeded and are what they claim to be.

No search runs here: each check draws many rows from a generator and compares them with the
model it was built from, so a generator that drifted from its docstring (a wrong link, Gaussian
noise where heavy tails are claimed, labels that are not flipped) fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

from bench.gate_calibration import summarise, task_named
from bench.synthetic_tasks import (
    FLIP_RATE,
    HEAVY_TAIL_DF,
    N_FEATURES,
    NOISY_FEATURES,
    TASKS,
    SyntheticTask,
    gaussian_regression,
    heavy_tailed_regression,
    logistic_binary,
    logistic_model,
    noisy_label_binary,
    noisy_label_weights,
    regression_weights,
    softmax_multiclass,
    softmax_probabilities,
    softmax_weights,
)

ROWS = 40_000  # enough that sampling error is well inside the tolerances below


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.name)
def test_a_seed_gives_the_same_rows_and_another_seed_other_rows(task: SyntheticTask) -> None:
    first, again, other = task.generate(3), task.generate(3), task.generate(4)
    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert not first.frame.equals(other.frame)
    if first.test is not None:
        assert again.test is not None
        pd.testing.assert_frame_equal(first.test, again.test)
    assert first.frame.columns[-1] == "target"
    assert not first.frame.isna().any().any()


def test_every_task_names_what_it_plants() -> None:
    for task in TASKS:
        assert (task.kind == "planted") == bool(task.planted), task.name
        assert (task.kind == "planted") == bool(task.planted_kind), task.name
    assert task_named("planted_heavy_tail_mae").planted >= {"mae", "huber", "log_cosh"}
    assert "cross_entropy" not in task_named("planted_noisy_labels_accuracy").planted


def test_null_binary_labels_follow_the_logistic_model() -> None:
    frame = logistic_binary(5, n=ROWS).frame
    x, y = frame.drop(columns="target").to_numpy(), frame["target"].to_numpy()
    w, b = logistic_model(5)
    fitted = LogisticRegression(C=1e6, max_iter=1000).fit(x, y)
    # The maximum-likelihood fit recovers the true model...
    np.testing.assert_allclose(fitted.coef_[0], w, atol=0.12)
    assert fitted.intercept_[0] == pytest.approx(b, abs=0.1)
    # ...and the true probabilities are calibrated: in each decile of p the share of positives
    # is p's mean there (a wrong link or a shifted intercept would open a gap).
    p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
    deciles = np.quantile(p, np.linspace(0, 1, 11))
    bins = np.clip(np.searchsorted(deciles, p, side="right") - 1, 0, 9)
    for k in range(10):
        assert y[bins == k].mean() == pytest.approx(p[bins == k].mean(), abs=0.025)


def test_null_regression_noise_is_standard_gaussian() -> None:
    frame = gaussian_regression(2, n=ROWS).frame
    x = frame.drop(columns="target").to_numpy()
    residual = frame["target"].to_numpy() - x @ regression_weights(2)
    assert x.shape[1] == N_FEATURES
    assert residual.std() == pytest.approx(1.0, abs=0.02)
    assert stats.kurtosis(residual) == pytest.approx(0.0, abs=0.1)  # Gaussian: no excess


def test_planted_regression_noise_is_student_t_with_heavy_tails() -> None:
    frame = heavy_tailed_regression(2, n=ROWS).frame
    residual = frame["target"].to_numpy() - frame.drop(columns="target").to_numpy() @ (
        regression_weights(2)
    )
    # Beyond 10 noise units a Gaussian has no rows at all; t with 1.5 degrees of freedom about 2%.
    far = float(np.mean(np.abs(residual) > 10.0))
    assert far == pytest.approx(2 * stats.t.sf(10.0, HEAVY_TAIL_DF), rel=0.2)
    assert far > 0.01
    assert np.median(residual) == pytest.approx(0.0, abs=0.03)  # symmetric: the median is x @ w


def test_null_multiclass_labels_follow_the_softmax_model() -> None:
    frame = softmax_multiclass(1, n=ROWS).frame
    x, y = frame.drop(columns="target").to_numpy(), frame["target"].to_numpy()
    p = softmax_probabilities(x, softmax_weights(1))
    # Each class's share is its mean probability, and the arg-max is right as often as the
    # model says it should be.
    np.testing.assert_allclose(np.bincount(y, minlength=4) / len(y), p.mean(axis=0), atol=0.01)
    assert np.mean(p.argmax(axis=1) == y) == pytest.approx(p.max(axis=1).mean(), abs=0.01)


def test_noisy_labels_are_flipped_in_the_frame_and_clean_in_the_test_set() -> None:
    data = noisy_label_binary(0, n=ROWS, n_test=ROWS)
    assert data.test is not None
    w = noisy_label_weights(0)
    assert np.count_nonzero(w) == 10
    assert len(w) == NOISY_FEATURES

    def agreement(frame: pd.DataFrame) -> tuple[float, float]:
        x = frame.drop(columns="target").to_numpy()
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        bayes = float(np.maximum(p, 1 - p).mean())
        return float(np.mean((p > 0.5) == frame["target"].to_numpy())), bayes

    clean, bayes = agreement(data.test)
    assert clean == pytest.approx(bayes, abs=0.01)
    # Symmetric flips at rate r turn the Bayes rule's accuracy a into r + (1 - 2r) a.
    noisy, bayes = agreement(data.frame)
    assert noisy == pytest.approx(FLIP_RATE + (1 - 2 * FLIP_RATE) * bayes, abs=0.01)


def test_the_summary_counts_keep_and_planted_kind_against_the_targets() -> None:
    def run(task: str, seed: int, loss: str, kept: bool, leader: str) -> dict[str, object]:
        return {"task": task, "seed": seed, "loss": loss, "kept": kept, "leader": leader}

    results = [
        {**run("null_gaussian_rmse", s, "mse", True, "mse"), "seconds": 1.0} for s in range(19)
    ]
    results.append({**run("null_gaussian_rmse", 19, "huber", False, "huber"), "seconds": 1.0})
    results += [
        {**run("planted_heavy_tail_mae", s, loss, kept, leader), "seconds": 1.0}
        for s, (loss, kept, leader) in enumerate(
            [("mae", False, "mae")] * 3 + [("mse", True, "huber"), ("r2_loss", False, "r2_loss")]
        )
    ]
    rows = {row["task"]: row for row in summarise(results)}
    null, planted = rows["null_gaussian_rmse"], rows["planted_heavy_tail_mae"]
    assert (null["seeds"], null["keep"], null["passed"]) == (20, 0.95, True)
    assert planted["planted"] == pytest.approx(0.6)
    assert planted["passed"] is False
    assert planted["leader_planted"] == pytest.approx(0.8)
    assert planted["keep"] == pytest.approx(0.2)
