"""One job's search, from dataset reference to best loss setup.

:class:`Search` prepares the data once, then :meth:`Search.run_trials` asks Optuna for a
population of trials, trains them together, and tells Optuna each result, until the trial
budget or the time budget is spent or the caller asks to stop. Several processes can run trials
on the same study at once (each with a :class:`~workers.engine.budget.TrialBudget` shared through
the database); one of them then calls :meth:`Search.finalize`. A restarted process carries on
from the trials in the database. :func:`run_search` does both steps in one process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Sequence

import numpy as np
import optuna

from workers.engine.budget import StudyBudget
from workers.engine.confirmation import ConfirmationPlan
from workers.engine.cross_fitting import CrossFitPlan
from workers.engine.datasets import (
    SplitSource,
    check_target_for_metric,
    prepare_dataset,
    resolve_reference,
)
from workers.engine.evaluation import Evaluator
from workers.engine.finalize import finalize
from workers.engine.metrics import check_metric_fits, get_metric
from workers.engine.optuna_adapter import trial_id_of
from workers.engine.population import MemberConfig
from workers.engine.reporting import OptunaMonitor, abandon, tell
from workers.engine.results import SearchResult
from workers.engine.sampling import is_fresh, presample
from workers.engine.search_context import SearchContext, SearchOutcome
from workers.engine.sizing import PopulationSize, choose_population_size
from workers.engine.space import SearchSpace, enqueue_baseline
from workers.engine.spec import Family, JobSpec, Task
from workers.engine.studies import (
    Heartbeat,
    ask,
    fail_orphaned_trials,
    fail_stale_trials,
    open_study,
    retried_trial_numbers,
    running_trials,
    trials_used,
)
from workers.engine.trainer import PopulationTrainer
from workers.engine.training import DeviceData, Outcome
from workers.engine.training_plan import TrainingPlan, plan_training
from workers.engine.trial_records import (
    TrialRecord,
    record_of,
    records_of,
    running_record,
)
from workers.engine.warm_start import enqueue_warm_starts, warm_start_report
from workers.engine.write_batch import deferred_writes

logger = logging.getLogger(__name__)
CANCELLED = "the job was cancelled before this trial finished"


def trial_seed(job_seed: int, trial_number: int) -> int:
    """A seed for one trial's initial weights and data order, derived from the job's seed."""
    return int(np.random.SeedSequence([job_seed, trial_number]).generate_state(1)[0])


def run_search(spec: JobSpec, context: SearchContext) -> SearchOutcome:
    """Run (or resume) the whole search in this process, then finalize it."""
    search = Search.open(spec, context)
    if search.run_trials():
        return SearchOutcome(stopped=True)
    return SearchOutcome(stopped=False, result=search.finalize())


class Search:
    """A job's prepared data, search space and study, shared by trials and finalization."""

    def __init__(self, spec: JobSpec, context: SearchContext) -> None:
        self.spec, self.context = spec, context
        metric = get_metric(spec.metric.name)
        reference = context.data or resolve_reference(spec.dataset, context.data_roots)
        test = context.test_data
        if test is None and spec.test_dataset:
            test = resolve_reference(spec.test_dataset, context.data_roots)
        split = SplitSource(column=spec.split_column, test=test)
        task = spec.planned_task
        self.data = prepare_dataset(reference, tuple(spec.target), task, spec.seed, split)
        if self.data.task is Task.REGRESSION:
            splits = (self.data.train, self.data.validation, self.data.test)
            check_target_for_metric(metric.name, np.concatenate([s.y_true for s in splits]))
        # The classes are known for certain only now (a spec planned elsewhere, or data changed
        # since the POST): parameters sized by them, such as a cost matrix, are checked again.
        classified = task in (Task.BINARY, Task.MULTICLASS)
        metric_params = check_metric_fits(
            spec.metric, task, len(self.data.classes) if classified else None
        )
        self.evaluator = Evaluator(metric, metric_params, self.data)
        self.plan: TrainingPlan = plan_training(len(self.data.train))
        self.space = SearchSpace.build(
            task,
            metric.name,
            tuple(spec.families or Family),
            tuple(spec.losses or ()),
            spec.params or {},
            default_batch_size=self.plan.batch_size,
            n_train=len(self.data.train),
            metric_params=metric_params,
            soft_targets=self.data.soft_targets,
        )
        self.device_data = DeviceData.create(self.data, context.device)
        self.study, created = open_study(context.storage, context.study_name, metric, spec.seed)
        if created:
            rates = enqueue_baseline(self.study, self.space, spec.budget.n_trials)
            room = spec.budget.n_trials - len(rates)
            enqueue_warm_starts(self.study, self.space, context.warm_setups, room, rates)
        self.population = self._population_size()
        self.budget = context.budget or StudyBudget(self.study, spec.budget.n_trials)

    @classmethod
    def open(cls, spec: JobSpec, context: SearchContext) -> Search:
        """Load and check the data, build the space, and open (or create) the study."""
        return cls(spec, context)

    def _population_size(self) -> PopulationSize:
        largest_batch = max(self.space.max_batch_size, self.plan.batch_size)
        cap = self.spec.parallelism.population_size or self.context.max_population_size
        task = self.data.task
        pairwise = {Task.BINARY: 1, Task.MULTILABEL: self.data.n_outputs}.get(task, 0)
        chosen = choose_population_size(
            self.device_data.shape,
            largest_batch,
            len(self.data.validation),
            self.context.device,
            cap,
            pairwise_outputs=pairwise,
        )
        if self.spec.parallelism.population_size is not None and chosen.members < cap:
            logger.warning("population of %d does not fit in memory; using %d", cap, chosen.members)
        return chosen

    def run_trials(self) -> bool:
        """Run trials until the budget or deadline is spent; True if the caller asked to stop.

        Populations stay full: whenever members finish, new trials are asked for and join at
        the next epoch, until the budget is spent; then the last members finish. It returns
        only once no trial of the study is running (see :meth:`_wait_for_others`).
        """
        context = self.context
        if context.exclusive:
            fail_orphaned_trials(self.study)
        self.record_study()
        try:
            return self._run_populations()
        finally:
            self.record_study()

    def _run_populations(self) -> bool:
        context = self.context
        in_flight: dict[Hashable, optuna.Trial] = {}
        monitor = OptunaMonitor(self.study, in_flight)
        trainer = PopulationTrainer(self.device_data, self.evaluator, self.plan, monitor)
        admitting = True
        next_stale_check = 0.0
        with Heartbeat(context.storage, context.heartbeat_s) as heartbeat:
            while True:
                if context.should_stop():
                    abandoned = [
                        abandon(self.study, in_flight.pop(number), CANCELLED)
                        for number in trainer.abandon()
                    ]
                    self._log([record_of(t) for t in abandoned if t is not None])
                    return True
                if context.deadline is not None and time.time() >= context.deadline:
                    if admitting:
                        logger.info("time budget spent for %s", context.study_name)
                    admitting = False
                # Often, so that trials of a worker that died are failed and re-queued (their
                # budget slots come back) by whoever is still working on the study; but not
                # every round, which costs a transaction per epoch: a trial goes stale only after
                # the grace period, so a second's delay changes nothing.
                if time.monotonic() >= next_stale_check:
                    fail_stale_trials(self.study)
                    next_stale_check = time.monotonic() + min(1.0, context.heartbeat_s)
                if admitting:
                    free = self.population.members - trainer.size
                    joining = self._acquire(heartbeat, free) if free > 0 else []
                    for trial, member in self._members(joining):
                        in_flight[trial.number] = trial
                        trainer.add(trial.number, member)
                if trainer.size == 0:
                    if not (heartbeat.enabled and running_trials(self.study)):
                        return False
                    self._wait_for_others()
                    continue
                told: list[TrialRecord] = []
                for number, result in trainer.run_epoch():
                    trial = in_flight.pop(number)
                    monitor.forget(number, completed=result.outcome is Outcome.COMPLETE)
                    frozen = tell(self.study, trial, result)
                    heartbeat.remove(trial_id_of(trial))
                    if frozen is not None:
                        told.append(record_of(frozen))
                self._log(told)

    def run_missing_trials(self) -> bool:
        """Run the trials the budget still owes; True if the caller asked to stop.

        For the finalizer, once every other shard has ended (nobody else takes budget slots):
        a worker that died between taking a slot and starting its trial took a slot that no trial
        used. The study's own count says how many trials are missing.
        """
        used = trials_used(self.study.get_trials(deepcopy=False))
        if used >= self.spec.budget.n_trials:
            return False
        missing = self.spec.budget.n_trials - used
        logger.warning(
            "%s: %d trial(s) never started; running them", self.context.study_name, missing
        )
        self.budget.settle(used)
        return self.run_trials()

    def _wait_for_others(self) -> None:
        """Nothing left to start here, but other trials still run: wait a beat, then look again.

        A shard never ends while a trial of its study is running. Either that trial's worker is
        alive and finishes it, or it died: its trial then goes stale after the grace period, is
        failed and re-queued by :func:`fail_stale_trials`, and this process runs it again. So
        when the last shard ends, every trial has finished and the budget is met. (A storage
        without heartbeats could never tell a dead worker's trial from a live one: there, the
        search does not wait.)
        """
        interval = min(1.0, self.context.heartbeat_s)
        end = time.monotonic() + interval
        while time.monotonic() < end and not self.context.should_stop():
            time.sleep(0.1)

    def record_study(self) -> None:
        """Hand the log a record of every trial of the study (repairs anything left unrecorded
        by a worker that died between a trial's end and its record)."""
        if self.context.trial_log is None:
            return
        trials = self.study.get_trials(deepcopy=False)
        self._log(records_of(trials, retried_trial_numbers(trials)), repair=True)

    def _log(self, records: Sequence[TrialRecord], *, repair: bool = False) -> None:
        if records and self.context.trial_log is not None:
            self.context.trial_log.record(records, repair=repair)

    def _acquire(self, heartbeat: Heartbeat, size: int) -> list[optuna.Trial]:
        """Up to ``size`` trials, each taking a budget slot before it is asked for."""
        trials: list[optuna.Trial] = []
        while len(trials) < size and self.budget.take():
            trial = ask(self.study, self.context.storage)
            # Beat at once, before anything that may fail: a running trial without any heartbeat
            # is never found stale, so its worker's death would go unnoticed.
            heartbeat.add(trial_id_of(trial))
            if not self.budget.claim(trial.number):
                # Another process popped the same queued trial first and runs it.
                logger.info("trial %d is run by another worker", trial.number)
                heartbeat.remove(trial_id_of(trial))
                self.budget.give_back()
                continue
            trials.append(trial)
        return trials

    def _members(self, trials: list[optuna.Trial]) -> list[tuple[optuna.Trial, MemberConfig]]:
        """Draw the trials' configurations, record them on the trials, describe the members.

        Every trial's parameters and attributes land in one transaction. The trial log hears
        of each trial as it starts, with its setup.
        """
        if not trials:
            return []
        members = []
        started = []
        with deferred_writes(self.study):
            fresh = [trial for trial in trials if is_fresh(trial)]
            queued = [trial for trial in trials if trial not in fresh]
            drawn = presample(
                self.study, fresh, self.space, trial_seed(self.spec.seed, trials[0].number)
            )
            if queued:
                # A queued trial's fixed parameters are written through the study's cache layer,
                # which must know the trial first: another process may have created it.
                running_trials(self.study)
            ready = [(trial, self.space.suggest(trial)) for trial in queued] + drawn
            for trial, config in ready:
                seed = int(trial.user_attrs.get("seed", trial_seed(self.spec.seed, trial.number)))
                attrs = {**config.as_attrs(), "seed": seed}
                for key, value in attrs.items():
                    trial.set_user_attr(key, value)
                member = MemberConfig(
                    config.loss, config.loss_params, config.learning_rate, seed, config.batch_size
                )
                members.append((trial, member))
                started.append(running_record(trial.number, attrs))
        self._log(started)
        return members

    def finalize(self) -> SearchResult:
        """Retrain the winner and the baseline, score them on test, and return the result."""
        confirmation = self.spec.confirmation
        plan = ConfirmationPlan(
            top_k=confirmation.top_k,
            seeds=confirmation.seeds,
            cross_fit=CrossFitPlan(confirmation.folds, confirmation.seeds_per_fold),
        )
        result = finalize(
            self.study,
            self.space,
            self.evaluator,
            self.device_data,
            self.plan,
            self.spec.seed,
            plan,
        )
        self.record_study()
        return result.model_copy(update={"warm_start": warm_start_report(self.study)})
