"""Drawing the parameters of a batch of new trials with TPE, from one read of the study.

Optuna's TPE with ``constant_liar`` (so that trials drawn together differ) reloads every trial
from the storage for every parameter it samples, to see the running ones. With a population of
running trials in a database that costs more than training them. Here the study is read once per
batch into an in-memory copy, the same TPE sampler draws every new trial's parameters there
(each one seeing the others as running), and the values are written onto the real trials, whose
``suggest_*`` calls then return them without sampling again.
"""

from __future__ import annotations

import logging

import optuna
from optuna.trial import TrialState

from workers.engine.optuna_adapter import (
    IN_MEMORY_STORAGE_LOGGER,
    storage_of,
    trial_by_id,
    trial_id_of,
)
from workers.engine.space import SearchSpace
from workers.engine.studies import quiet_experimental

N_STARTUP_TRIALS = 8
# Each batch makes a throw-away in-memory study; Optuna announces every one at INFO level.
logging.getLogger(IN_MEMORY_STORAGE_LOGGER).setLevel(logging.WARNING)


def presample(
    study: optuna.Study, trials: list[optuna.Trial], space: SearchSpace, seed: int
) -> list[optuna.Trial]:
    """Choose the parameters of ``trials`` (fresh ones: neither enqueued nor retried).

    Returns the trials again, reloaded so that their ``suggest_*`` calls see the parameters.
    """
    if not trials:
        return []
    mirror = optuna.create_study(
        direction=study.direction,
        sampler=optuna.samplers.TPESampler(
            seed=seed, constant_liar=True, n_startup_trials=N_STARTUP_TRIALS
        ),
    )
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    mirror.add_trials(study.get_trials(deepcopy=False, states=states))
    storage = storage_of(study)
    for trial in trials:
        with quiet_experimental():
            shadow = mirror.ask()
        space.suggest(shadow)
        for name, distribution in shadow.distributions.items():
            internal = distribution.to_internal_repr(shadow.params[name])
            storage.set_trial_param(trial_id_of(trial), name, internal, distribution)
    # A Trial caches its frozen state when created; a new one reads the parameters just set.
    return [trial_by_id(study, trial_id_of(trial)) for trial in trials]


def is_fresh(trial: optuna.Trial) -> bool:
    """Whether the trial's parameters are still to be drawn (not enqueued, not a retry)."""
    system_attrs = storage_of(trial.study).get_trial_system_attrs(trial_id_of(trial))
    return "fixed_params" not in system_attrs
