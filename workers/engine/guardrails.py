"""Guardrails: the returned setup against the baseline on metrics the job did not optimise.

A loss tuned for one metric can wreck another (a segmentation loss searched for boundary F1
reached 74.8 BF1 and 1.9 mIoU). Before a user ships a winner, the result shows it beside the
baseline on a few secondary metrics of the task, on the test rows, with the same paired
bootstrap as the main comparison, and flags any on which the winner is significantly worse.
Label metrics use each run's own threshold when the job tuned one on the logits, else the logit 0
(p = 1/2; for multiclass, the raw arg-max).
Probability metrics use each run's own temperature when the job fitted one (the user deploys the
scaled probabilities), else the raw sigmoid or softmax.
"""

from __future__ import annotations

from workers.engine.confirmation import Finalist, link_of
from workers.engine.evaluation import Evaluator, Threshold
from workers.engine.metrics import check_metric_fits, get_metric
from workers.engine.results import Guardrail
from workers.engine.spec import MetricRef, Task
from workers.engine.statistics import ArmScorer, paired_bootstrap

# Secondary metrics per task: discrimination, calibration and a plain decision metric. Each has
# a fast resampled path (workers.engine.resampled_scores), so the bootstrap stays cheap.
SECONDARY: dict[Task, tuple[str, ...]] = {
    Task.BINARY: ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "accuracy"),
    Task.MULTICLASS: ("accuracy", "macro_f1", "log_loss", "ece"),
    Task.MULTILABEL: ("macro_roc_auc", "micro_f1", "ece"),
    Task.REGRESSION: ("mae", "rmse", "r2"),
}


def guardrails(
    winner: Finalist, baseline: Finalist, evaluator: Evaluator, resamples: int, seed: int
) -> list[Guardrail]:
    """``winner`` against ``baseline`` on each secondary metric of the task but the job's own;
    empty when the winner is the baseline (nothing to compare) or the task has none listed."""
    if winner is baseline:
        return []
    data = evaluator.data
    n_classes = len(data.classes) if data.task in (Task.BINARY, Task.MULTICLASS) else None
    rows = []
    for name in SECONDARY.get(data.task, ()):
        if name == evaluator.metric.name:
            continue
        params = check_metric_fits(MetricRef(name=name), data.task, n_classes)
        secondary = Evaluator(get_metric(name), params, data)
        reuse = evaluator.decision_on_logits
        ours, theirs = _scorers(winner, secondary, reuse), _scorers(baseline, secondary, reuse)
        if not ours or not theirs:
            continue
        greater = secondary.metric.greater_is_better
        compared = paired_bootstrap(ours, theirs, len(data.test), greater, resamples, seed=seed)
        rows.append(
            Guardrail(
                metric=name,
                direction=secondary.metric.direction.value,
                winner=compared.winner.mean,
                baseline=compared.baseline.mean,
                lift=compared.lift.mean,
                lift_interval=[compared.lift.low, compared.lift.high],
                significantly_worse=bool(compared.lift.high < 0),
            )
        )
    return rows


def _scorers(finalist: Finalist, secondary: Evaluator, reuse: bool) -> list[ArmScorer]:
    link = link_of(finalist)
    test = secondary.data.test
    return [
        secondary.scorer(
            test,
            run.test_outputs,
            _threshold(run.result.score.threshold if reuse else None),
            link,
            run.result.score.temperature,
        )
        for run in finalist.completed
        if run.result.score is not None and run.test_outputs is not None
    ]


def _threshold(tuned: Threshold | None) -> Threshold:
    return 0.0 if tuned is None else tuned
