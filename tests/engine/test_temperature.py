"""Temperature scaling: fitted on validation for probability metrics, applied unchanged to test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.metrics import brier_score_loss, log_loss

from workers.engine import search_losses
from workers.engine.datasets import PreparedData
from workers.engine.evaluation import Evaluator, Score
from workers.engine.metrics import METRICS, get_metric
from workers.engine.spec import Task
from workers.engine.temperature import fit_temperature, fit_temperatures, platt_targets


def _calibrated_binary(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a perfectly calibrated model, and labels drawn from them."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=n)
    return logits, (rng.random(n) < expit(logits)).astype(np.int64)


def _calibrated_multiclass(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, classes))
    cumulative = softmax(logits, axis=1).cumsum(axis=1)
    labels = (rng.random((n, 1)) > cumulative).sum(axis=1)
    return logits, labels.astype(np.int64)


@pytest.mark.parametrize("metric", ["log_loss", "brier", "ece"])
def test_a_planted_temperature_is_recovered_on_binary_logits(metric: str) -> None:
    logits, y = _calibrated_binary(20_000, seed=0)
    fitted = fit_temperature(metric, Task.BINARY, y, 3.0 * logits)  # over-confident by 3
    assert fitted == pytest.approx(3.0, rel=0.05)


@pytest.mark.parametrize("planted", [0.5, 3.0])
def test_a_planted_temperature_is_recovered_on_multiclass_logits(planted: float) -> None:
    logits, y = _calibrated_multiclass(20_000, 5, seed=1)
    assert fit_temperature("log_loss", Task.MULTICLASS, y, planted * logits) == pytest.approx(
        planted, rel=0.05
    )


def test_multilabel_shares_one_temperature_over_every_label() -> None:
    logits, y = _calibrated_binary(30_000, seed=2)
    cells, labels = 3.0 * logits.reshape(10_000, 3), y.reshape(10_000, 3)
    assert fit_temperature("ece", Task.MULTILABEL, labels, cells) == pytest.approx(3.0, rel=0.05)


def test_a_population_is_fitted_member_by_member_in_one_pass() -> None:
    logits, y = _calibrated_binary(3_000, seed=3)
    planted = np.array([0.5, 1.0, 2.0, 6.0])
    members = planted[:, None] * logits[None, :]
    together = fit_temperatures("log_loss", Task.BINARY, y, members).temperatures
    alone = [fit_temperature("log_loss", Task.BINARY, y, row) for row in members]
    np.testing.assert_allclose(together, alone)
    # Scaling a member's logits scales its fitted temperature the same way.
    np.testing.assert_allclose(together / together[1], planted, rtol=1e-2)


def test_the_fit_is_never_worse_than_no_scaling_beyond_the_smoothing() -> None:
    # Platt's targets move the optimum by about 1 / N; on 5,000 rows the fitted T can cost at
    # most a hair of the metric against no scaling, whatever the logits.
    rng = np.random.default_rng(4)
    for seed in range(10):
        logits = rng.normal(size=5_000) * rng.uniform(0.1, 10.0)
        y = (rng.random(5_000) < 0.3).astype(np.int64)  # unrelated to the logits
        for metric, score in (("log_loss", log_loss), ("brier", brier_score_loss)):
            t = fit_temperature(metric, Task.BINARY, y, logits)
            unscaled = score(y, expit(logits))
            assert score(y, expit(logits / t)) <= unscaled * (1 + 1e-3), (seed, metric)


def test_separable_validation_rows_do_not_drive_the_temperature_to_zero() -> None:
    # Every row on the right side: the plain log loss keeps falling as T goes to 0. Platt's
    # targets stop the fit where the predictions are about 1 / (N + 2) from 0 or 1.
    rng = np.random.default_rng(11)
    y = np.repeat([0, 1], 50)
    logits = np.where(y == 1, 1.0, -1.0) * rng.uniform(0.5, 1.5, size=100)
    for metric in ("log_loss", "brier", "ece"):
        t = fit_temperature(metric, Task.BINARY, y, logits)
        assert 0.1 < t < 1.0, metric
        # On average about as sure as 51 / 52 (0.981), not as sure as T -> 0 would make them.
        assert 0.96 < np.mean(expit(logits[y == 1] / t)) < 0.995, metric
    assert platt_targets(Task.BINARY, y)[[0, 99]] == pytest.approx([1 / 52, 51 / 52])
    multiclass = fit_temperature("log_loss", Task.MULTICLASS, y, np.stack([-logits, logits], 1))
    assert 0.1 < multiclass < 1.0


def _overconfident(data: PreparedData, factor: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Validation and test logits of a fairly good model, multiplied by ``factor``."""
    rng = np.random.default_rng(seed)

    def logits(y: np.ndarray) -> np.ndarray:
        return factor * (1.5 * (2.0 * y - 1.0) + rng.normal(scale=1.5, size=len(y)))

    return logits(data.validation.y_true), logits(data.test.y_true)


def test_the_tuned_temperature_lowers_validation_log_loss_of_overconfident_logits(
    breast_cancer: PreparedData,
) -> None:
    evaluator = Evaluator(get_metric("log_loss"), {}, breast_cancer)
    validation, _ = _overconfident(breast_cancer, 4.0, seed=5)
    y = breast_cancer.validation.y_true

    tuned = evaluator.score_validation(validation)

    assert tuned.threshold is None
    assert tuned.temperature is not None
    assert tuned.temperature > 2.0
    raw = log_loss(y, expit(validation))
    assert tuned.value < 0.8 * raw
    assert tuned.value == pytest.approx(log_loss(y, expit(validation / tuned.temperature)))


def test_the_validation_temperature_is_applied_unchanged_on_test(
    breast_cancer: PreparedData,
) -> None:
    evaluator = Evaluator(get_metric("log_loss"), {}, breast_cancer)
    validation, test = _overconfident(breast_cancer, 4.0, seed=6)
    y_test = breast_cancer.test.y_true
    tuned = evaluator.score_validation(validation)
    assert tuned.temperature is not None

    on_test = evaluator.score_split(breast_cancer.test, test, None, temperature=tuned.temperature)

    assert on_test == pytest.approx(log_loss(y_test, expit(test / tuned.temperature)))
    # Not refitted on test: the test rows' own temperature differs, and would score better.
    refit = fit_temperature("log_loss", Task.BINARY, y_test, test)
    assert refit != pytest.approx(tuned.temperature, rel=1e-3)
    assert on_test >= log_loss(y_test, expit(test / refit))
    resampled = evaluator.scorer(breast_cancer.test, test, None, temperature=tuned.temperature)
    assert resampled(np.arange(len(y_test))) == pytest.approx(on_test)


@pytest.mark.parametrize("metric", ["log_loss", "brier", "ece"])
def test_a_temperature_of_one_reproduces_the_unscaled_numbers(
    breast_cancer: PreparedData, metric: str
) -> None:
    params = {"bins": 15} if metric == "ece" else {}
    evaluator = Evaluator(get_metric(metric), params, breast_cancer)
    _, test = _overconfident(breast_cancer, 2.0, seed=7)
    split = breast_cancer.test
    unscaled = evaluator.metric.score(split.y_true, expit(test), evaluator.params)

    assert evaluator.score_split(split, test, None, temperature=1.0) == unscaled
    assert evaluator.metric_input(test, None, temperature=None) == pytest.approx(expit(test))


def test_the_test_score_needs_the_validation_temperature(breast_cancer: PreparedData) -> None:
    evaluator = Evaluator(get_metric("brier"), {}, breast_cancer)
    _, test = _overconfident(breast_cancer, 2.0, seed=8)
    with pytest.raises(ValueError, match="temperature"):
        evaluator.score_split(breast_cancer.test, test, None)


def test_population_scores_match_member_by_member_scores(breast_cancer: PreparedData) -> None:
    evaluator = Evaluator(get_metric("log_loss"), {}, breast_cancer)
    members = np.stack([_overconfident(breast_cancer, f, seed=9)[0] for f in (0.5, 1.0, 5.0)])

    together = evaluator.score_population(members, ["identity"] * 3)

    for m, score in enumerate(together):
        assert isinstance(score, Score)
        alone = evaluator.score_validation(members[m])
        assert score.temperature == pytest.approx(alone.temperature)
        # The population's value is the fit's own log loss; scikit-learn's agrees.
        assert score.value == pytest.approx(alone.value)
        confirmed = evaluator.confirm(members[m], None, "identity", score.temperature)
        assert confirmed == Score(alone.value, None, score.temperature)


def test_only_calibration_metrics_on_classification_tasks_fit_a_temperature() -> None:
    fitted = {
        name: sorted(t.value for t in metric.tasks if metric.tunes_temperature(t))
        for name, metric in METRICS.items()
        if any(metric.tunes_temperature(t) for t in Task)
    }
    assert fitted == {
        "log_loss": ["binary", "multiclass"],
        "brier": ["binary"],
        "ece": ["binary", "multiclass", "multilabel"],
    }


def test_a_log_loss_search_returns_the_temperature_to_deploy() -> None:
    result = search_losses(
        "builtin:breast_cancer",
        target="target",
        metric="log_loss",
        n_trials=4,
        population_size=4,
        families=["proxy"],
    )
    for setup in (result.best, result.baseline):
        assert setup is not None
        assert setup.threshold is None
        assert setup.temperature is not None
        assert 0.01 <= setup.temperature <= 100
        assert setup.test is not None


def test_the_fitted_temperature_stays_within_its_bounds() -> None:
    logits, y = _calibrated_binary(2_000, seed=10)
    assert fit_temperature("log_loss", Task.BINARY, y, 1e-4 * logits) == pytest.approx(0.01)
    assert fit_temperature("log_loss", Task.BINARY, y, 1e4 * logits) == pytest.approx(100.0)
