"""Finalists as the result shows them: each setup with its metrics, threshold, temperature and
code."""

from __future__ import annotations

import numpy as np

from workers.engine.confirmation import Finalist, consensus_threshold, link_of
from workers.engine.constraints import check_constraint
from workers.engine.evaluation import Evaluator
from workers.engine.losses import LossSpec, get_loss
from workers.engine.losses.snippets import Deployment, Framework, has_snippet, render_snippet
from workers.engine.results import (
    FinalistSummary,
    Setup,
    TrainingPlanResult,
    TrainingSettings,
    decision_rule,
)
from workers.engine.spec import Task
from workers.engine.statistics import Interval
from workers.engine.training import DeviceData
from workers.engine.training_plan import TrainingPlan


class SetupDescriber:
    """Turns the finalists of one job into the setups and summaries of its result."""

    def __init__(
        self,
        evaluator: Evaluator,
        device_data: DeviceData,
        plan: TrainingPlan,
        resamples: int,
        seed: int,
    ) -> None:
        self.evaluator, self.device_data, self.plan = evaluator, device_data, plan
        self.resamples, self.seed = resamples, seed  # of the bootstrap behind test intervals
        self.context = device_data.loss_context(plan, evaluator)

    def setup(self, finalist: Finalist, test: Interval | None) -> Setup:
        """``finalist`` with its metrics; ``test`` is its paired-bootstrap test interval, if
        it was compared (otherwise the mean of its seeds' test values is shown)."""
        trial, config = finalist.trial, finalist.config
        spec = get_loss(config.loss)
        validation = finalist.validation_values()
        test_values = self._test_values(finalist)
        multiclass = self.evaluator.data.task is Task.MULTICLASS
        tuned = consensus_threshold(finalist.thresholds())
        threshold, offsets = decision_rule(multiclass, tuned)
        training = self._training(finalist)
        temperature = consensus_temperature(finalist)
        deployment = Deployment(
            batch_size=training.batch_size,
            learning_rate=training.learning_rate,
            weight_decay=training.weight_decay,
            best_epoch=training.epochs,
            patience_epochs=self.plan.eval_every * self.plan.patience,
            threshold=threshold.logit if threshold else None,
            class_offsets=offsets,
            temperature=temperature,
            costs=self._costs() if multiclass else None,
        )
        return Setup(
            trial_number=trial.number,
            arm=trial.user_attrs.get("arm"),
            warm_start_from=trial.user_attrs.get("warm_start_from"),
            family=spec.family.value,
            loss=spec.name,
            loss_params=dict(config.loss_params),
            training=training,
            threshold=threshold,
            class_offsets=offsets,
            temperature=temperature,
            trial_validation=trial.value,
            validation=float(np.mean(validation)) if validation else None,
            validation_std=float(np.std(validation)) if validation else None,
            validation_seeds=validation,
            test=test.mean if test else (float(np.mean(test_values)) if test_values else None),
            test_interval=[test.low, test.high] if test else None,
            test_seeds=test_values,
            failed_runs=len(finalist.runs) - len(finalist.completed),
            output_link=spec.link,
            code=self._code(spec, dict(config.loss_params), deployment, "pytorch"),
            keras_code=self._code(spec, dict(config.loss_params), deployment, "keras"),
            constraint=check_constraint(
                finalist,
                self.evaluator,
                self.device_data.data.validation,
                self.device_data.data.test,
                self.resamples,
                self.seed,
            ),
        )

    def _code(
        self, spec: LossSpec, params: dict[str, float], deployment: Deployment, framework: Framework
    ) -> str | None:
        if not has_snippet(spec.name, framework):
            return None
        return render_snippet(
            spec.name,
            self.context.task,
            params,
            self.context,
            spec.reference,
            spec.link,
            deployment=deployment,
            framework=framework,
        )

    def _costs(self) -> list[list[float]] | None:
        """The cost matrix multiclass decisions weigh (``expected_cost`` only)."""
        costs = self.evaluator.costs
        return None if costs is None else [[float(c) for c in row] for row in costs]

    def finalist(self, finalist: Finalist, won: bool) -> FinalistSummary:
        """One line of the confirmation table."""
        validation = finalist.validation_values()
        return FinalistSummary(
            trial_number=finalist.trial.number,
            loss=finalist.loss,
            family=get_loss(finalist.loss).family.value,
            trial_validation=finalist.trial.value,
            validation_mean=float(np.mean(validation)) if validation else None,
            validation_std=float(np.std(validation)) if validation else None,
            completed_runs=len(finalist.completed),
            winner=won,
        )

    def _training(self, finalist: Finalist) -> TrainingSettings:
        epochs = [run.result.best_epoch for run in finalist.completed]
        return TrainingSettings(
            **plan_result(self.plan).model_dump(exclude={"batch_size"}),
            batch_size=finalist.config.batch_size or self.plan.batch_size,
            learning_rate=finalist.config.learning_rate,
            epochs=int(np.median(epochs)) if epochs else None,
            seeds=[run.seed for run in finalist.runs],
        )

    def _test_values(self, finalist: Finalist) -> list[float]:
        test = self.device_data.data.test
        link = link_of(finalist)
        return [
            self.evaluator.score_split(
                test,
                run.test_outputs,
                run.result.score.threshold,
                link,
                run.result.score.temperature,
            )
            for run in finalist.completed
            if run.result.score is not None and run.test_outputs is not None
        ]


def consensus_temperature(finalist: Finalist) -> float | None:
    """The median of the runs' fitted temperatures, the one to deploy (as the threshold is the
    median of theirs); None when the job's metric fits none. Each run is still scored on test
    with its own temperature, as with its own threshold."""
    fitted = [
        run.result.score.temperature
        for run in finalist.completed
        if run.result.score is not None and run.result.score.temperature is not None
    ]
    return float(np.median(fitted)) if fitted else None


def plan_result(plan: TrainingPlan) -> TrainingPlanResult:
    """The training plan as results show it."""
    return TrainingPlanResult.model_validate(plan.describe())
