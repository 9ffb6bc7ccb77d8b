"""Warm start: earlier jobs' best setups run as a search's first trials, after the baseline.

The caller (the worker) finds the setups (:class:`WarmSetup`); when the study is created they are
queued with every parameter fixed, under the search space's own names, so each one is a normal
trial of the study (arm ``warm_start``, user attribute ``warm_start_from``: the earlier job). A
setup the space cannot hold (a loss this job does not search, a parameter out of its range) or
that the trial budget has no room for is not queued; the study keeps the plan, with the reason,
and :func:`warm_start_report` turns it into the result's ``warm_start`` list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from workers.engine.losses import baseline_loss
from workers.engine.results import Setup, WarmStartTrial
from workers.engine.space import WARM_START, SearchSpace

AUTO_WARM_START_JOBS = 5  # "auto" takes at most this many earlier jobs, newest first
PLAN_ATTR = "warm_start"  # the study's user attribute holding the plan
INDEX_ATTR = "warm_start_index"  # a warm-start trial's place in the plan
NO_ROOM = "the trial budget leaves no room for it after the baseline"
NOT_RUN = "it was queued, but the search ended before it ran"
DUPLICATE = "the same setup is already queued from another job"
BASELINE = "this job's baseline runs this setup already"


@dataclass(frozen=True)
class WarmSetup:
    """An earlier job's best setup, to be tried first."""

    from_job: str
    loss: str
    loss_params: Mapping[str, float] = field(default_factory=dict)
    learning_rate: float | None = None
    batch_size: int | None = None

    @classmethod
    def of(cls, from_job: str, setup: Setup) -> WarmSetup:
        """The setup ``from_job`` returned as its best."""
        return cls(
            from_job,
            setup.loss,
            dict(setup.loss_params),
            setup.training.learning_rate,
            setup.training.batch_size,
        )


def enqueue_warm_starts(
    study: optuna.Study,
    space: SearchSpace,
    setups: Sequence[WarmSetup],
    room: int,
    baseline_rates: Sequence[float] = (),
) -> None:
    """Queue the setups the space holds, at most ``room`` of them, and keep the plan (each
    setup, and why it was not queued) on the study.

    A setup that is the plain loss at a learning rate the baseline's sweep already runs
    (``baseline_rates``: often an earlier job's best, when nothing beat its baseline) would only
    repeat a baseline trial: it is not queued."""
    plan: list[dict[str, Any]] = []
    queued: list[dict[str, Any]] = []
    for index, setup in enumerate(setups):
        entry = _entry(setup)
        params = space.fixed_params(
            setup.loss, setup.loss_params, setup.learning_rate, setup.batch_size
        )
        if isinstance(params, str):
            entry["reason"] = params
        elif _repeats_baseline(space, setup, params, baseline_rates):
            entry["reason"] = BASELINE
        elif params in queued:
            entry["reason"] = DUPLICATE
        elif len(queued) >= room:
            entry["reason"] = NO_ROOM
        else:
            queued.append(params)
            study.enqueue_trial(
                params,
                user_attrs={
                    "arm": WARM_START,
                    "warm_start_from": setup.from_job,
                    INDEX_ATTR: index,
                },
                skip_if_exists=False,
            )
        plan.append(entry)
    if plan:
        study.set_user_attr(PLAN_ATTR, plan)


def warm_start_report(study: optuna.Study) -> list[WarmStartTrial]:
    """Each planned setup and the trial that ran it (the last one, if it was run again after
    its worker was lost)."""
    plan = study.user_attrs.get(PLAN_ATTR) or []
    ran: dict[int, int] = {}
    for trial in study.get_trials(deepcopy=False):
        index = trial.user_attrs.get(INDEX_ATTR)
        if index is not None and trial.state != TrialState.WAITING:
            ran[int(index)] = max(ran.get(int(index), -1), trial.number)
    report = []
    for index, entry in enumerate(plan):
        number = ran.get(index)
        reason = entry.get("reason")
        if number is None and reason is None:
            reason = NOT_RUN
        report.append(
            WarmStartTrial(
                from_job=entry["from_job"],
                loss=entry["loss"],
                loss_params=entry.get("loss_params") or {},
                learning_rate=entry.get("learning_rate"),
                batch_size=entry.get("batch_size"),
                trial_number=number,
                used=number is not None,
                reason=None if number is not None else reason,
            )
        )
    return report


def _repeats_baseline(
    space: SearchSpace, setup: WarmSetup, params: Mapping[str, Any], rates: Sequence[float]
) -> bool:
    return (
        setup.loss == baseline_loss(space.task).name
        and setup.learning_rate in rates
        and f"{setup.loss}.batch_size" not in params  # the baseline's batch size is drawn
    )


def _entry(setup: WarmSetup) -> dict[str, Any]:
    return {
        "from_job": setup.from_job,
        "loss": setup.loss,
        "loss_params": dict(setup.loss_params),
        "learning_rate": setup.learning_rate,
        "batch_size": setup.batch_size,
        "reason": None,
    }
