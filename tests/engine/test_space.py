"""The metric-aware search space: which losses a job may try, and what each trial suggests."""

from __future__ import annotations

import optuna
import pytest

from workers.engine.errors import SpecError
from workers.engine.losses import LOSSES, get_loss
from workers.engine.losses.catalogue.entry import JACCARD_DEFAULT_AVERAGE, served_as
from workers.engine.metrics import get_metric
from workers.engine.overrides import LEARNING_RATE_RANGE
from workers.engine.space import BASELINE_LEARNING_RATE, SearchSpace, enqueue_baseline
from workers.engine.spec import Family, Task

ALL_FAMILIES = tuple(Family)


def quiet_study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study()


def names(space: SearchSpace) -> set[str]:
    return {name for group in space.describe().values() for name in group}


@pytest.mark.parametrize(
    ("task", "metric"),
    [
        (Task.BINARY, "f1"),
        (Task.BINARY, "roc_auc"),
        (Task.BINARY, "recall_at_precision"),
        (Task.MULTICLASS, "macro_f1"),
        (Task.MULTILABEL, "micro_f1"),
        (Task.REGRESSION, "mae"),
    ],
)
def test_the_default_space_holds_exactly_the_losses_that_serve_the_metric(
    task: Task, metric: str
) -> None:
    space = SearchSpace.build(task, metric, ALL_FAMILIES)
    expected = {
        name
        for name, spec in LOSSES.items()
        if task in spec.tasks and (spec.serves is None or served_as(metric, {}) in spec.serves)
    }
    assert names(space) == expected
    for family, group in space.describe().items():
        assert all(get_loss(name).family.value == family for name in group)


def test_f1_brings_the_soft_f1_surrogates_and_roc_auc_the_pairwise_ones() -> None:
    f1 = names(SearchSpace.build(Task.BINARY, "f1", ALL_FAMILIES))
    auc = names(SearchSpace.build(Task.BINARY, "roc_auc", ALL_FAMILIES))
    assert {"cross_entropy", "class_weighted_ce", "focal", "soft_f1", "mixed_soft_f1"} <= f1
    assert {"cross_entropy", "pairwise_auc", "mixed_pairwise_auc"} <= auc
    assert "pairwise_auc" not in f1
    assert "soft_f1" not in auc


def test_per_label_overlap_losses_serve_jaccard_only_when_it_averages_per_label() -> None:
    families = tuple(Family)
    per_example = SearchSpace.build(Task.MULTILABEL, "jaccard", families)
    per_label = SearchSpace.build(
        Task.MULTILABEL, "jaccard", families, metric_params={"average": "macro"}
    )
    by_example = {s.name for specs in per_example.candidates.values() for s in specs}
    by_label = {s.name for specs in per_label.candidates.values() for s in specs}
    overlap = {
        name
        for name, spec in LOSSES.items()
        if spec.serves and "jaccard" in spec.serves and Task.MULTILABEL in spec.tasks
    }
    assert {"soft_dice", "tversky", "lovasz_hinge"} <= overlap
    assert overlap <= by_label
    assert not overlap & by_example
    assert "cross_entropy" in by_example


def test_jaccard_s_default_average_is_the_one_the_catalogue_assumes() -> None:
    (average,) = [p for p in get_metric("jaccard").params if p.name == "average"]
    assert average.default == JACCARD_DEFAULT_AVERAGE


def test_families_are_restricted_to_the_requested_ones() -> None:
    space = SearchSpace.build(Task.BINARY, "f1", (Family.WEIGHTED,))
    assert set(space.describe()) == {"weighted"}
    assert {"class_weighted_ce", "focal"} <= names(space)


def test_requested_families_without_a_loss_raise_naming_those_with_one() -> None:
    with pytest.raises(SpecError, match=r"suits metric 'accuracy'.*\['proxy', 'weighted'\]"):
        SearchSpace.build(Task.BINARY, "accuracy", (Family.SURROGATE,))


def test_a_job_may_list_the_losses_to_search_even_ones_not_aimed_at_its_metric() -> None:
    space = SearchSpace.build(Task.BINARY, "accuracy", ALL_FAMILIES, ("focal", "soft_f1"))
    assert space.describe() == {"weighted": ["focal"], "surrogate": ["soft_f1"]}


@pytest.mark.parametrize(
    ("losses", "families", "message"),
    [
        (("magic",), ALL_FAMILIES, "unknown loss 'magic'"),
        (("mse",), ALL_FAMILIES, "loss 'mse' is not defined for a binary task"),
        (("focal",), (Family.PROXY,), "loss 'focal' is in family 'weighted'"),
    ],
)
def test_listed_losses_are_checked(
    losses: tuple[str, ...], families: tuple[Family, ...], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        SearchSpace.build(Task.BINARY, "f1", families, losses)


def test_parameters_can_be_narrowed_or_fixed() -> None:
    overrides: dict[str, dict[str, float | list[float]]] = {
        "focal": {"gamma": [0.5, 3.0], "alpha": 0.25},
        "training": {"learning_rate": [1e-3, 2e-3]},
    }
    space = SearchSpace.build(Task.BINARY, "f1", ALL_FAMILIES, ("focal",), overrides)
    study = quiet_study()
    for _ in range(15):
        trial = study.ask()
        config = space.suggest(trial)
        assert 0.5 <= config.loss_params["gamma"] <= 3.0
        assert config.loss_params["alpha"] == 0.25
        assert "focal.alpha" not in trial.params  # fixed values are not searched
        assert 1e-3 <= config.learning_rate <= 2e-3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"focal": {"gamma": [0.5, 9.0]}}, r"focal.gamma \[0.5, 9.0\] is outside the supported"),
        ({"focal": {"gamma": [3.0, 1.0]}}, "is empty: low is above high"),
        ({"focal": {"beta": 1.0}}, "focal has no searchable parameter 'beta'"),
        ({"focal": {"gamma": "high"}}, "must be a number or a \\[low, high\\] pair"),
        ({"huber": {"delta": 1.0}}, "loss 'huber' is not defined for a binary task"),
        ({"soft_f1": {}}, "parameters are given for 'soft_f1', which this job does not search"),
        ({"training": {"learning_rate": [1e-6, 1e-3]}}, "training.learning_rate"),
    ],
)
def test_bad_overrides_name_the_offender(
    overrides: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        SearchSpace.build(Task.BINARY, "f1", ALL_FAMILIES, ("focal",), overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("task", "metric"),
    [(Task.BINARY, "f1"), (Task.BINARY, "roc_auc"), (Task.MULTICLASS, "macro_f1")],
)
def test_suggest_draws_only_the_chosen_losss_parameters(task: Task, metric: str) -> None:
    space = SearchSpace.build(task, metric, ALL_FAMILIES, default_batch_size=32, n_train=500)
    study = quiet_study()
    for _ in range(40):
        trial = study.ask()
        config = space.suggest(trial)
        spec = get_loss(config.loss)
        own = {f"{config.loss}.{p.name}" for p in spec.params_for(task)}
        if spec.batch_level:
            own.add(f"{config.loss}.batch_size")
            assert config.batch_size in (32, 64, 128)
        else:
            assert config.batch_size is None  # the job's default
        assert set(trial.params) == {"learning_rate", "family", f"{config.family}.loss", *own}
        assert config.arm == "search"
        for p in spec.params_for(task):
            assert p.low <= config.loss_params[p.name] <= p.high
        assert LEARNING_RATE_RANGE[0] <= config.learning_rate <= LEARNING_RATE_RANGE[1]


def test_batch_sizes_never_exceed_half_the_training_set() -> None:
    space = SearchSpace.build(
        Task.BINARY, "f1", ALL_FAMILIES, ("soft_f1",), default_batch_size=32, n_train=100
    )
    sizes = {space.suggest(quiet_study().ask()).batch_size for _ in range(20)}
    assert sizes <= {32}


def test_focal_searches_alpha_for_sigmoid_tasks_only() -> None:
    for task, metric, expected in [
        (Task.BINARY, "f1", {"focal.gamma", "focal.alpha"}),
        (Task.MULTILABEL, "micro_f1", {"focal.gamma", "focal.alpha"}),
        (Task.MULTICLASS, "macro_f1", {"focal.gamma"}),
    ]:
        space = SearchSpace.build(task, metric, ALL_FAMILIES, ("focal",))
        trial = quiet_study().ask()
        space.suggest(trial)
        assert {k for k in trial.params if k.startswith("focal.")} == expected


@pytest.mark.parametrize(
    ("task", "metric", "loss"),
    [
        (Task.BINARY, "f1", "cross_entropy"),
        (Task.MULTICLASS, "accuracy", "cross_entropy"),
        (Task.MULTILABEL, "macro_f1", "cross_entropy"),
        (Task.REGRESSION, "rmse", "mse"),
    ],
)
def test_the_enqueued_baseline_arm_trains_the_plain_loss(
    task: Task, metric: str, loss: str
) -> None:
    space = SearchSpace.build(task, metric, ALL_FAMILIES)
    study = quiet_study()
    enqueue_baseline(study, space, n_trials=1)
    trial = study.ask()
    config = space.suggest(trial)
    assert (config.arm, config.family, config.loss) == ("baseline", "proxy", loss)
    assert config.loss_params == {}
    assert config.learning_rate == BASELINE_LEARNING_RATE
    assert trial.params == {"learning_rate": BASELINE_LEARNING_RATE}
    # The trial after it is an ordinary search trial.
    assert space.suggest(study.ask()).arm == "search"


def test_the_baseline_learning_rate_stays_inside_a_narrowed_range() -> None:
    overrides = {"training": {"learning_rate": [1e-2, 2e-2]}}
    space = SearchSpace.build(Task.BINARY, "f1", ALL_FAMILIES, overrides=overrides)
    study = quiet_study()
    enqueue_baseline(study, space, n_trials=1)
    assert space.suggest(study.ask()).learning_rate == 1e-2


@pytest.mark.parametrize(("n_trials", "expected"), [(1, 1), (19, 1), (20, 2), (30, 3), (500, 3)])
def test_the_baseline_gets_a_learning_rate_sweep_of_a_tenth_of_the_budget(
    n_trials: int, expected: int
) -> None:
    space = SearchSpace.build(Task.BINARY, "f1", ALL_FAMILIES)
    study = quiet_study()
    enqueue_baseline(study, space, n_trials)
    rates = [space.suggest(study.ask()).learning_rate for _ in range(expected)]
    assert rates == pytest.approx([1e-3, 10**-3.5, 10**-2.5][:expected])
    assert space.suggest(study.ask()).arm == "search"  # the sweep is over
