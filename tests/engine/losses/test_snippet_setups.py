"""A snippet carries the setup loss-search measured, not only the loss: the batch size, the
learning rate, the epoch budget (the schedules take it as a parameter), the decision rule in a
``predict`` helper, and for regression the target standardisation; in PyTorch and in Keras."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from tests.engine.losses.harness import context
from tests.engine.losses.keras_backend import run_keras_snippet
from tests.engine.losses.test_snippets import run_snippet
from workers.engine.class_offsets import decide
from workers.engine.costs import cost_decisions
from workers.engine.losses.snippets import Deployment, render_snippet
from workers.engine.spec import Task

FRAMEWORKS = ["pytorch", "keras"]


def namespace(
    name: str, task: Task, deployment: Deployment, framework: str, **ctx: Any
) -> dict[str, Any]:
    source = render_snippet(
        name,
        task,
        {},
        context(task, **ctx),
        deployment=deployment,
        framework=framework,  # type: ignore[arg-type]
    )
    run = run_keras_snippet if framework == "keras" else run_snippet
    loss_fn = run(source)
    found: dict[str, Any] = loss_fn.__globals__ if hasattr(loss_fn, "__globals__") else {}
    if not found:  # a Loss object: its class's module globals are the snippet's namespace
        found = type(loss_fn).call.__globals__
    return found


def as_numpy(values: Any) -> np.ndarray:
    return np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values)


def test_the_setup_constants_come_before_the_call_and_the_schedule_uses_them() -> None:
    source = render_snippet(
        "mixed_soft_f1",
        Task.BINARY,
        {"lam": 0.5, "warmup": 0.25},
        context(Task.BINARY, n_train=1000, max_epochs=40),
        deployment=Deployment(
            batch_size=64, learning_rate=0.003, weight_decay=0.01, best_epoch=17, patience_epochs=8
        ),
    )
    assert "BATCH_SIZE = 64  # the batch size it was searched with" in source
    assert "LEARNING_RATE = 0.003  # AdamW, weight decay 0.01" in source
    assert "MAX_EPOCHS = 40  # the epoch budget" in source
    assert "best after epoch 17" in source
    assert "PATIENCE_EPOCHS = 8  # the search stopped a run after this many epochs" in source
    assert "STEPS_PER_EPOCH = 16  # training batches per epoch: ceil(1000 training rows" in source
    assert "max_epochs=MAX_EPOCHS, steps_per_epoch=STEPS_PER_EPOCH)" in source
    assert source.index("MAX_EPOCHS = 40") < source.index("loss_fn = make_loss(")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_binary_predict_applies_the_tuned_threshold_on_the_logit(framework: str) -> None:
    names = namespace("cross_entropy", Task.BINARY, Deployment(threshold=-0.5), framework)
    logits = torch.tensor([-2.0, -0.5, -0.4999, 1.0])
    assert as_numpy(names["predict"](logits)).tolist() == [0, 1, 1, 1]
    assert names["THRESHOLD"] == -0.5


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_multilabel_predict_applies_one_threshold_per_label(framework: str) -> None:
    names = namespace(
        "cross_entropy", Task.MULTILABEL, Deployment(threshold=[0.0, 1.0, -1.0]), framework
    )
    logits = torch.tensor([[0.5, 0.5, -0.5], [-0.5, 1.5, -1.5]])
    assert as_numpy(names["predict"](logits)).tolist() == [[1, 0, 1], [0, 1, 0]]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_multiclass_predict_adds_the_class_offsets_as_the_search_scored_it(
    framework: str,
) -> None:
    offsets = [0.0, 0.7, -0.3]
    names = namespace(
        "cross_entropy", Task.MULTICLASS, Deployment(class_offsets=offsets), framework
    )
    logits = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    expected = decide(logits, tuple(offsets))
    assert as_numpy(names["predict"](torch.tensor(logits))).tolist() == expected.tolist()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_expected_cost_predict_decides_by_bayes_rule_under_the_costs(framework: str) -> None:
    costs = [[0.0, 1.0, 4.0], [2.0, 0.0, 1.0], [9.0, 3.0, 0.0]]
    offsets = [0.0, 0.1, -0.2]
    deployment = Deployment(costs=costs, class_offsets=offsets)
    names = namespace("cross_entropy", Task.MULTICLASS, deployment, framework)
    logits = np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32)
    expected = cost_decisions(logits.astype(np.float64), np.asarray(costs), np.asarray(offsets))
    assert as_numpy(names["predict"](torch.tensor(logits))).tolist() == expected.tolist()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_fitted_temperature_gives_calibrated_probabilities(framework: str) -> None:
    names = namespace("cross_entropy", Task.MULTICLASS, Deployment(temperature=2.0), framework)
    logits = torch.tensor([[2.0, 0.0, -2.0]])
    expected = torch.softmax(logits / 2.0, dim=-1)
    np.testing.assert_allclose(as_numpy(names["probabilities"](logits)), expected, rtol=1e-6)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_metric_on_scores_gets_probabilities_and_no_threshold(framework: str) -> None:
    names = namespace("cross_entropy", Task.BINARY, Deployment(), framework)
    assert "THRESHOLD" not in names
    np.testing.assert_allclose(
        as_numpy(names["predict"](torch.tensor([0.0, 2.0]))), [0.5, 1 / (1 + np.exp(-2.0))]
    )


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_regression_snippet_standardises_targets_and_predicts_in_their_units(
    framework: str,
) -> None:
    names = namespace(
        "mse", Task.REGRESSION, Deployment(), framework, target_mean=10.0, target_std=4.0
    )
    y = torch.tensor([6.0, 10.0, 18.0])
    standardised = as_numpy(names["standardise"](y))
    np.testing.assert_allclose(standardised, [-1.0, 0.0, 2.0])
    np.testing.assert_allclose(as_numpy(names["predict"](torch.tensor(standardised))), y)
