"""The returned setup is shown beside the baseline on metrics the job did not optimise, and a
setup that is reliably worse on one of them is flagged."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from service.wording import comparison_summary
from workers.engine import search_losses
from workers.engine.confirmation import Finalist, Run
from workers.engine.datasets import PreparedData, prepare_dataset, resolve_reference
from workers.engine.datasets.references import FrameReference
from workers.engine.evaluation import Evaluator, Score
from workers.engine.guardrails import SECONDARY, guardrails
from workers.engine.metrics import Needs, get_metric
from workers.engine.population import MemberConfig
from workers.engine.resampled_scores import resampled_scorer
from workers.engine.results import Guardrail
from workers.engine.spec import Task
from workers.engine.training import MemberResult, Outcome

DATA = prepare_dataset(resolve_reference("builtin:breast_cancer", []), ("target",), None, seed=0)
AT_LOGIT_ZERO = Score(0.9, threshold=0.0)


def _finalist(
    loss: str,
    test_logits: list[np.ndarray],
    data: PreparedData = DATA,
    score: Score = AT_LOGIT_ZERO,
) -> Finalist:
    """A finalist whose confirmation runs gave these test logits (threshold 0 on validation,
    unless ``score`` says otherwise)."""
    trial = optuna.trial.create_trial(value=0.9, params={}, distributions={})
    runs = [
        Run(
            seed=seed,
            result=MemberResult(Outcome.COMPLETE, score),
            validation_outputs=np.zeros_like(logits[: len(data.validation)]),
            test_outputs=logits,
        )
        for seed, logits in enumerate(test_logits)
    ]
    return Finalist(trial, MemberConfig(loss=loss), runs)


def _logits(signal: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = 2.0 * DATA.test.y_true - 1.0
    return signal * truth + rng.normal(size=len(truth))


def test_a_winner_that_ranks_worse_than_the_baseline_is_flagged() -> None:
    evaluator = Evaluator(get_metric("f1"), {}, DATA)
    baseline = _finalist("cross_entropy", [_logits(3.0, seed) for seed in range(3)])
    winner = _finalist("focal", [_logits(0.5, 10 + seed) for seed in range(3)])

    rows = guardrails(winner, baseline, evaluator, resamples=200, seed=0)

    assert DATA.task is Task.BINARY
    assert [row.metric for row in rows] == [
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "ece",
        "accuracy",
    ]
    by_name = {row.metric: row for row in rows}
    auc = by_name["roc_auc"]
    assert auc.winner < auc.baseline
    assert auc.lift == auc.winner - auc.baseline
    assert auc.lift_interval[1] < 0
    assert auc.significantly_worse
    log_loss = by_name["log_loss"]
    assert log_loss.direction == "minimize"
    assert log_loss.lift == log_loss.baseline - log_loss.winner  # positive is better


def test_no_guardrails_when_the_baseline_is_returned_or_for_the_jobs_own_metric() -> None:
    baseline = _finalist("cross_entropy", [_logits(3.0, 0)])
    other = _finalist("focal", [_logits(3.0, 1)])
    assert guardrails(baseline, baseline, Evaluator(get_metric("f1"), {}, DATA), 200, 0) == []
    roc_job = Evaluator(get_metric("roc_auc"), {}, DATA)
    names = [row.metric for row in guardrails(other, baseline, roc_job, 200, 0)]
    assert names == ["pr_auc", "log_loss", "brier", "ece", "accuracy"]


def test_a_winner_that_ranks_as_well_but_is_overconfident_is_flagged_on_calibration_only() -> None:
    # Scores s * truth + noise have posterior log-odds 2 s score, so the baseline below is
    # calibrated by construction. Scaling its logits keeps every ranking and every decision at 0,
    # and makes the probabilities overconfident.
    logits = [_logits(0.5, seed) for seed in range(3)]  # s = 0.5: posterior log-odds = score
    baseline = _finalist("cross_entropy", logits)
    winner = _finalist("focal", [6.0 * z for z in logits])

    rows = guardrails(winner, baseline, Evaluator(get_metric("f1"), {}, DATA), 200, 0)

    by_name = {row.metric: row for row in rows}
    assert by_name["ece"].direction == "minimize"
    assert by_name["ece"].winner > by_name["ece"].baseline
    assert by_name["ece"].significantly_worse
    for unchanged in ("roc_auc", "pr_auc", "accuracy"):
        assert by_name[unchanged].lift == pytest.approx(0.0, abs=1e-12)
        assert not by_name[unchanged].significantly_worse


def test_calibration_guardrails_use_the_temperature_each_run_deploys() -> None:
    # The same over-confident winner as above, but the job (log loss) fitted T = 6 on each of
    # its runs: the user deploys sigmoid(z / 6), the baseline's probabilities exactly.
    logits = [_logits(0.5, seed) for seed in range(3)]
    baseline = _finalist("cross_entropy", logits, score=Score(0.3, temperature=1.0))
    winner = _finalist("focal", [6.0 * z for z in logits], score=Score(0.3, temperature=6.0))

    rows = guardrails(winner, baseline, Evaluator(get_metric("log_loss"), {}, DATA), 200, 0)

    by_name = {row.metric: row for row in rows}
    assert "log_loss" not in by_name  # the job's own metric
    for calibration in ("brier", "ece"):
        assert by_name[calibration].lift == pytest.approx(0.0, abs=1e-12)
        assert not by_name[calibration].significantly_worse
    assert by_name["accuracy"].lift == pytest.approx(0.0, abs=1e-12)  # decisions at logit 0


def _multilabel_data() -> PreparedData:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(600, 4))
    labels = (features[:, :3] + rng.normal(size=(600, 3)) > 0).astype(int)
    frame = pd.DataFrame(features, columns=[f"x{j}" for j in range(4)])
    for j in range(3):
        frame[f"label_{j}"] = labels[:, j]
    return prepare_dataset(FrameReference(frame), ("label_*",), None, seed=0)


def test_multilabel_results_get_guardrails_on_ranking_decisions_and_calibration() -> None:
    data = _multilabel_data()
    assert data.task is Task.MULTILABEL
    truth = 2.0 * data.test.y_true - 1.0
    noise = [np.random.default_rng(seed).normal(size=truth.shape) for seed in range(3)]
    # Posterior log-odds (calibrated, see above) for the baseline, four times them for the winner.
    calibrated = [3.0 * (1.5 * truth + z) for z in noise]
    baseline = _finalist("cross_entropy", calibrated, data)
    overconfident = _finalist("asymmetric", [4.0 * z for z in calibrated], data)

    rows = guardrails(
        overconfident, baseline, Evaluator(get_metric("hamming_loss"), {}, data), 200, 0
    )

    assert [row.metric for row in rows] == ["macro_roc_auc", "micro_f1", "ece"]
    by_name = {row.metric: row for row in rows}
    assert by_name["ece"].significantly_worse
    assert by_name["macro_roc_auc"].lift == pytest.approx(0.0, abs=1e-12)
    assert not by_name["micro_f1"].significantly_worse


def test_multiclass_and_regression_guardrails_include_calibration_and_r2() -> None:
    iris = prepare_dataset(resolve_reference("builtin:iris", []), ("target",), None, seed=0)
    onehot = np.eye(3)[iris.test.y_true]
    logits = [2.0 * onehot + np.random.default_rng(s).normal(size=onehot.shape) for s in range(3)]
    baseline, winner = (
        _finalist("cross_entropy", logits, iris),
        _finalist("focal", logits[::-1], iris),
    )
    names = [
        row.metric
        for row in guardrails(winner, baseline, Evaluator(get_metric("accuracy"), {}, iris), 50, 0)
    ]
    assert names == ["macro_f1", "log_loss", "ece"]

    diabetes = prepare_dataset(resolve_reference("builtin:diabetes", []), ("target",), None, seed=0)
    outputs = [np.random.default_rng(s).normal(size=len(diabetes.test)) for s in range(2)]
    baseline, winner = (
        _finalist("mse", outputs, diabetes),
        _finalist("mae", outputs[::-1], diabetes),
    )
    job = Evaluator(get_metric("median_ae"), {}, diabetes)
    assert [row.metric for row in guardrails(winner, baseline, job, 50, 0)] == ["mae", "rmse", "r2"]


@pytest.mark.parametrize("task", list(SECONDARY))
def test_every_guardrail_metric_fits_its_task_and_has_a_fast_resampled_path(task: Task) -> None:
    # Guardrails resample every run of both arms hundreds of times; a metric that went through
    # scikit-learn there would cost seconds per job.
    rng = np.random.default_rng(0)
    y = {
        Task.BINARY: rng.integers(0, 2, 40),
        Task.MULTICLASS: rng.integers(0, 3, 40),
        Task.MULTILABEL: rng.integers(0, 2, (40, 3)),
        Task.REGRESSION: rng.normal(size=40),
    }[task]
    for name in SECONDARY[task]:
        metric = get_metric(name)
        assert task in metric.tasks, name
        if task is Task.MULTICLASS:
            probabilities = rng.dirichlet(np.ones(3), size=40)
            inputs = probabilities.argmax(1) if metric.needs is Needs.LABELS else probabilities
        elif metric.needs is Needs.LABELS:
            inputs = rng.integers(0, 2, y.shape)
        else:
            inputs = rng.random(y.shape)
        fast = resampled_scorer(task, name, metric.resolve_params({}), y, inputs)
        assert fast is not None, f"{name} has no fast path for {task.value}"


def test_the_summary_warns_about_each_metric_the_winner_is_reliably_worse_on() -> None:
    worse = Guardrail(
        metric="roc_auc",
        direction="maximize",
        winner=0.81,
        baseline=0.93,
        lift=-0.12,
        lift_interval=[-0.18, -0.07],
        significantly_worse=True,
    )
    fine = worse.model_copy(
        update={"metric": "brier", "lift_interval": [-0.2, 0.1], "significantly_worse": False}
    )
    result = search_losses("builtin:breast_cancer", target="target", metric="f1", n_trials=3)
    guarded = result.model_copy(
        update={"comparison": result.comparison.model_copy(update={"guardrails": [worse, fine]})}
    )
    summary = comparison_summary(guarded)
    assert summary.startswith(comparison_summary(result))
    assert (
        f"Check before you ship it: on test, {result.best.loss} is reliably worse than the "
        "baseline on roc_auc 0.81 vs 0.93 (lift -0.12, 95% interval [-0.18, -0.07])."
    ) in summary
    assert "brier" not in summary
