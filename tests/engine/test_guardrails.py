"""The returned setup is shown beside the baseline on metrics the job did not optimise, and a
setup that is reliably worse on one of them is flagged."""

from __future__ import annotations

import numpy as np
import optuna

from service.wording import comparison_summary
from workers.engine import search_losses
from workers.engine.confirmation import Finalist, Run
from workers.engine.datasets import prepare_dataset, resolve_reference
from workers.engine.evaluation import Evaluator, Score
from workers.engine.guardrails import guardrails
from workers.engine.metrics import get_metric
from workers.engine.population import MemberConfig
from workers.engine.results import Guardrail
from workers.engine.spec import Task
from workers.engine.training import MemberResult, Outcome

DATA = prepare_dataset(resolve_reference("builtin:breast_cancer", []), ("target",), None, seed=0)


def _finalist(loss: str, test_logits: list[np.ndarray]) -> Finalist:
    """A finalist whose confirmation runs gave these test logits (threshold 0 on validation)."""
    trial = optuna.trial.create_trial(value=0.9, params={}, distributions={})
    runs = [
        Run(
            seed=seed,
            result=MemberResult(Outcome.COMPLETE, Score(0.9, threshold=0.0)),
            validation_outputs=np.zeros(len(DATA.validation)),
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
    assert [row.metric for row in rows] == ["roc_auc", "log_loss", "brier", "accuracy"]
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
    assert names == ["log_loss", "brier", "accuracy"]


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
