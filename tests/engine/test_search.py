"""``run_search`` end to end on real storage: the baseline arm, the budget, resuming, failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from sklearn.datasets import load_breast_cancer

from workers.engine.errors import NoCompletedTrials
from workers.engine.results import MetricResult, SplitRows, Verdict
from workers.engine.search import Search, run_search
from workers.engine.search_context import SearchContext, SearchOutcome
from workers.engine.spec import (
    Budget,
    Confirmation,
    Family,
    JobSpec,
    MetricRef,
    Parallelism,
    Task,
)
from workers.engine.studies import make_storage

N_TRIALS = 5
SPEC = JobSpec(
    dataset="builtin:breast_cancer",
    task=Task.BINARY,
    metric=MetricRef(name="roc_auc"),
    budget=Budget(n_trials=N_TRIALS),
    families=list(Family),
    seed=0,
    confirmation=Confirmation(top_k=2, seeds=2, seeds_per_fold=2),
)
BASELINE_SWEEP = [1e-3]  # a budget of 5 affords one baseline trial


@dataclass(frozen=True)
class Searched:
    storage: optuna.storages.RDBStorage
    outcome: SearchOutcome
    trials: list[optuna.trial.FrozenTrial]


def never() -> bool:
    return False


def context(
    storage: optuna.storages.BaseStorage,
    *,
    data_roots: list[Path] | None = None,
    population_size: int = 1,
    should_stop: Callable[[], bool] = never,
) -> SearchContext:
    return SearchContext(
        storage=storage,
        study_name="job-1",
        data_roots=data_roots or [],
        should_stop=should_stop,
        max_population_size=population_size,
    )


def load_trials(storage: optuna.storages.BaseStorage) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="job-1", storage=storage).get_trials()


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Searched:
    """One small search, shared by the tests that only read its result."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = tmp_path_factory.mktemp("search") / "s.db"
    storage = make_storage(f"sqlite:///{path}")
    outcome = run_search(SPEC, context(storage))
    return Searched(storage, outcome, load_trials(storage))


def test_the_search_runs_exactly_the_trial_budget(searched: Searched) -> None:
    assert len(searched.trials) == N_TRIALS
    assert all(t.state is TrialState.COMPLETE for t in searched.trials)
    assert searched.outcome.stopped is False


def test_the_first_trials_are_the_baseline_arms_learning_rate_sweep(searched: Searched) -> None:
    sweep = searched.trials[: len(BASELINE_SWEEP)]
    for trial, learning_rate in zip(sweep, BASELINE_SWEEP, strict=True):
        assert trial.user_attrs["arm"] == "baseline"
        assert trial.user_attrs["loss"] == "cross_entropy"
        assert trial.params == {"learning_rate": pytest.approx(learning_rate)}
    assert all(t.user_attrs["arm"] == "search" for t in searched.trials[len(BASELINE_SWEEP) :])


def test_every_trial_records_how_to_reproduce_it(searched: Searched) -> None:
    for trial in searched.trials:
        attrs = trial.user_attrs
        assert {"arm", "family", "loss", "loss_params", "learning_rate", "seed"} <= set(attrs)
        assert attrs["best_epoch"] <= attrs["epochs_trained"]
    assert len({t.user_attrs["seed"] for t in searched.trials}) == N_TRIALS


def test_the_result_reports_best_and_baseline_on_validation_and_test(searched: Searched) -> None:
    result = searched.outcome.result
    assert result is not None
    assert result.metric == MetricResult(name="roc_auc", params={}, direction="maximize")
    values = {t.number: t.value for t in searched.trials}
    best, baseline = result.best, result.baseline
    assert baseline is not None
    assert best.trial_validation == values[best.trial_number]
    assert baseline.loss == "cross_entropy"
    for setup in (best, baseline):
        # Each finalist is retrained on the confirmation seeds; the mean is what is reported.
        assert len(setup.validation_seeds) == 2
        assert setup.validation == pytest.approx(np.mean(setup.validation_seeds))
        assert len(setup.test_seeds) == 2
        assert setup.test == pytest.approx(np.mean(setup.test_seeds))
        assert setup.test is not None
        assert setup.test_interval is not None
        low, high = setup.test_interval
        assert 0.5 < low <= setup.test <= high <= 1.0
        assert setup.threshold is None  # roc_auc needs no decision threshold
    # Paired: both arms ran on the same fresh seeds, none of which a trial used.
    assert best.training.seeds == baseline.training.seeds
    assert len(best.training.seeds) == 2
    trial_seeds = {t.user_attrs["seed"] for t in searched.trials}
    assert not set(best.training.seeds) & trial_seeds
    confirmation = result.confirmation
    assert (confirmation.top_k, confirmation.seeds) == (2, 2)
    finalists = confirmation.finalists
    assert sum(f.winner for f in finalists) == 1
    winner = next(f for f in finalists if f.winner)
    assert winner.trial_number == best.trial_number
    # The leader (best mean validation) wins only if it passes the gate: reliably better than
    # the baseline out of fold on the training rows (cross-fitted); otherwise the baseline is
    # returned.
    leader = max(finalists, key=lambda f: f.validation_mean or float("-inf"))
    assert confirmation.leader_trial_number == leader.trial_number
    comparison = result.comparison
    assert comparison.leader is not None
    assert comparison.leader.trial_number == leader.trial_number
    if leader.trial_number == baseline.trial_number:
        assert winner is leader
        assert comparison.verdict is Verdict.BASELINE_LED
        assert comparison.gate is None
    else:
        gate = comparison.gate
        assert gate is not None
        assert comparison.validation_lift_interval is not None
        assert (gate.method, gate.rows, gate.folds, gate.seeds_per_fold) == (
            "cross_fitted",
            341,  # every training row, out of fold
            5,
            2,
        )
        assert gate.lift_interval is not None
        assert gate.passed is (gate.lift_interval[0] > 0)
        if winner is leader:
            assert gate.passed
        else:
            assert not gate.passed
            assert best.trial_number == baseline.trial_number
            assert comparison.test_lift == 0.0
            assert comparison.verdict is Verdict.NOT_RELIABLE
    assert (confirmation.folds, confirmation.seeds_per_fold) == (5, 2)
    assert result.trial_counts == {"complete": N_TRIALS}
    assert result.dataset.split_rows == SplitRows(train=341, validation=114, test=114)


def test_running_the_same_study_again_resumes_the_spent_budget(searched: Searched) -> None:
    again = run_search(SPEC, context(searched.storage))
    trials = load_trials(searched.storage)
    assert [t.number for t in trials] == [t.number for t in searched.trials]
    assert again.result is not None
    assert searched.outcome.result is not None
    assert again.result.best.trial_number == searched.outcome.result.best.trial_number


def test_a_raised_budget_runs_only_the_extra_trials_as_one_population(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(label=(x[:, 0] > 0).astype(int))
    frame.to_csv(tmp_path / "small.csv", index=False)
    storage = make_storage(f"sqlite:///{tmp_path / 's.db'}")
    one = SPEC.model_copy(
        update={"dataset": "small.csv", "target": ["label"], "budget": Budget(n_trials=1)}
    )
    run_search(one, context(storage, data_roots=[tmp_path]))
    assert len(load_trials(storage)) == 1
    three = one.model_copy(update={"budget": Budget(n_trials=3)})
    outcome = run_search(three, context(storage, data_roots=[tmp_path], population_size=4))
    trials = load_trials(storage)
    assert [t.number for t in trials] == [0, 1, 2]
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert outcome.result is not None
    assert outcome.result.trial_counts == {"complete": 3}


def test_constant_features_fail_every_trial_as_collapsed(tmp_path: Path) -> None:
    labels = np.tile([0, 1], 30)
    frame = pd.DataFrame({"f1": 1.0, "f2": 3.0, "label": labels})
    frame.to_csv(tmp_path / "constant.csv", index=False)
    spec = JobSpec(
        dataset="constant.csv",
        target=["label"],
        task=Task.BINARY,
        metric=MetricRef(name="f1"),
        budget=Budget(n_trials=2),
        families=[Family.PROXY],
    )
    storage = make_storage(f"sqlite:///{tmp_path / 's.db'}")
    with pytest.raises(NoCompletedTrials, match="collapsed"):
        run_search(spec, context(storage, data_roots=[tmp_path]))
    trials = load_trials(storage)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]
    assert all(str(t.user_attrs["failure_reason"]).startswith("collapsed") for t in trials)


def test_a_stop_request_returns_stopped_before_any_trial_runs(tmp_path: Path) -> None:
    storage = make_storage(f"sqlite:///{tmp_path / 's.db'}")
    outcome = run_search(SPEC, context(storage, should_stop=lambda: True))
    assert outcome == SearchOutcome(stopped=True)
    assert all(t.state is TrialState.WAITING for t in load_trials(storage))


def test_a_separate_test_file_is_what_the_result_is_tested_on(tmp_path: Path) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    frame.iloc[:469].to_csv(tmp_path / "fit.csv", index=False)
    frame.iloc[469:].to_csv(tmp_path / "holdout.csv", index=False)
    spec = SPEC.model_copy(
        update={"dataset": "fit.csv", "test_dataset": "holdout.csv", "budget": Budget(n_trials=2)}
    )
    storage = make_storage(f"sqlite:///{tmp_path / 's.db'}")
    outcome = run_search(spec, context(storage, data_roots=[tmp_path]))
    assert outcome.result is not None
    dataset = outcome.result.dataset
    assert dataset.split == "test rows from holdout.csv"
    assert dataset.split_rows.test == 100
    assert dataset.split_rows.train + dataset.split_rows.validation == 469


def test_the_spec_fixes_the_population_size(tmp_path: Path) -> None:
    storage = optuna.storages.InMemoryStorage()
    roomy = SearchContext(
        storage=storage, study_name="sized", data_roots=[], max_population_size=32
    )
    assert (
        Search.open(
            SPEC.model_copy(update={"parallelism": Parallelism(population_size=3)}), roomy
        ).population.members
        == 3
    )
    chosen = Search.open(
        SPEC.model_copy(update={"parallelism": Parallelism()}), roomy
    ).population.members
    assert 3 < chosen <= 32  # left to the engine: as many as fit, up to the context's cap


class Ledger:
    """A trial budget kept apart from the study, as the workers' (which never reads it)."""

    def __init__(self, n_trials: int) -> None:
        self.left = n_trials

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True

    def give_back(self) -> None:
        self.left += 1

    def claim(self, trial_number: int) -> bool:
        return True

    def settle(self, used: int) -> None:
        self.left = N_TRIALS - used


def test_a_process_joining_a_study_runs_the_trials_another_process_queued(tmp_path: Path) -> None:
    # The first process creates the study (queueing the baseline arm); a second one, whose
    # study cache has never seen that trial, takes it first, alone in its population.
    url = f"sqlite:///{tmp_path / 's.db'}"
    Search.open(SPEC, context(make_storage(url)))
    joiner = make_storage(url)
    joining = SearchContext(
        storage=joiner,
        study_name="job-1",
        data_roots=[],
        max_population_size=1,
        budget=Ledger(N_TRIALS),
    )
    assert Search.open(SPEC, joining).run_trials() is False
    trials = load_trials(joiner)
    assert trials[0].user_attrs["arm"] == "baseline"
    assert trials[0].params == {"learning_rate": pytest.approx(BASELINE_SWEEP[0])}
    assert [t.state for t in trials] == [TrialState.COMPLETE] * N_TRIALS
