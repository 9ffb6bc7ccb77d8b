"""Drawing the parameters of a batch of new trials with TPE, from one read of the study.

Optuna's TPE with ``constant_liar`` (so that trials drawn together differ) reloads every trial
from the storage for every parameter it samples, to see the running ones. With a population of
running trials in a database that costs more than training them. Here the study is read once per
batch into an in-memory copy, the same TPE sampler draws every new trial's parameters there
(each one seeing the others as running), the configurations are read off the copy, and the values
are written onto the real trials (in the same transaction as the rest of their start).
"""

from __future__ import annotations

import logging

import optuna
from optuna.trial import TrialState

from workers.engine.optuna_adapter import IN_MEMORY_STORAGE_LOGGER, storage_of, trial_id_of
from workers.engine.space import SearchSpace, TrialConfig
from workers.engine.studies import quiet_experimental

N_STARTUP_TRIALS = 8
# Each batch makes a throw-away in-memory study; Optuna announces every one at INFO level.
logging.getLogger(IN_MEMORY_STORAGE_LOGGER).setLevel(logging.WARNING)


def presample(
    study: optuna.Study, trials: list[optuna.Trial], space: SearchSpace, seed: int
) -> list[tuple[optuna.Trial, TrialConfig]]:
    """Choose the configurations of ``trials`` (fresh ones: neither enqueued nor retried).

    Writes each trial's parameters to the storage (inside a
    :func:`~workers.engine.write_batch.deferred_writes` block, at its end) and returns each
    trial with its configuration, drawn from the mirror: the live trials do not see the
    parameters, so their ``suggest_*`` must not be called again.
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
    chosen = []
    for trial in trials:
        with quiet_experimental():
            shadow = mirror.ask()
        config = space.suggest(shadow)
        for name, distribution in shadow.distributions.items():
            internal = distribution.to_internal_repr(shadow.params[name])
            storage.set_trial_param(trial_id_of(trial), name, internal, distribution)
        chosen.append((trial, config))
    return chosen


def is_fresh(trial: optuna.Trial) -> bool:
    """Whether the trial's parameters are still to be drawn (not enqueued, not a retry)."""
    system_attrs = storage_of(trial.study).get_trial_system_attrs(trial_id_of(trial))
    return "fixed_params" not in system_attrs
