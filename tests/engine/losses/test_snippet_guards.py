"""A stateful loss's snippet is a different loss without its training-loop hooks, so it says
which hooks it needs at the top, and raises instead of going on when they are missing.

PyTorch: a training call (logits that require grad) raises if start_epoch never ran, if the loop
runs past a schedule boundary (more than ``steps_per_epoch`` training calls in the epoch before
the schedule changes) without start_epoch, or if a second training step comes without
after_step. Evaluation calls (no grad) never raise. Keras: the loss raises without its callbacks.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.engine.losses.harness import context, random_batch
from tests.engine.losses.keras_backend import run_keras_snippet
from tests.engine.losses.test_snippets import run_snippet, setup_params
from workers.engine.losses.snippets import Deployment, render_snippet
from workers.engine.spec import Task

N_TRAIN, BATCH = 60, 20  # three training steps an epoch
EPOCH_HOOKED = ["mixed_soft_f1", "ldam_drw"]
STEP_HOOKED = ["auc_m", "eban_recall_at_precision", "eban_precision_at_recall"]
STATEFUL = [*EPOCH_HOOKED, *STEP_HOOKED, "mixed_auc_m"]


def snippet(name: str, framework: str = "pytorch", params: dict[str, float] | None = None) -> Any:
    source = render_snippet(
        name,
        Task.BINARY,
        {**setup_params(name, Task.BINARY), **(params or {})},
        context(Task.BINARY, n_train=N_TRAIN),
        deployment=Deployment(batch_size=BATCH),
        framework=framework,  # type: ignore[arg-type]
    )
    return run_keras_snippet(source) if framework == "keras" else run_snippet(source)


def training_call(loss_fn: Any, seed: int = 0) -> torch.Tensor:
    outputs, targets = random_batch(Task.BINARY, n_members=1, batch=BATCH, seed=seed)
    value: torch.Tensor = loss_fn(outputs[0].clone().requires_grad_(True), targets[0])
    value.backward()  # type: ignore[no-untyped-call]
    return value


@pytest.mark.parametrize("name", STATEFUL)
def test_the_header_names_the_hooks_a_stateful_loss_needs(name: str) -> None:
    source = render_snippet(
        name, Task.BINARY, setup_params(name, Task.BINARY), context(Task.BINARY)
    )
    assert "# REQUIRED hooks; without them this is a different loss, so loss_fn raises:" in source
    if name in EPOCH_HOOKED or name.startswith("mixed_"):
        assert "#   loss_fn.start_epoch(epoch) at the start of every epoch" in source
    if name in STEP_HOOKED or name == "mixed_auc_m":
        assert "#   loss_fn.after_step(lr) after every optimiser step" in source


def test_a_stateless_loss_says_it_needs_no_hooks() -> None:
    source = render_snippet("focal", Task.BINARY, {"gamma": 2.0}, context(Task.BINARY))
    assert "# Hooks: none (the loss keeps no state between calls)." in source


@pytest.mark.parametrize("name", [*EPOCH_HOOKED, "mixed_auc_m"])
def test_an_epoch_scheduled_loss_raises_when_start_epoch_never_ran(name: str) -> None:
    loss_fn = snippet(name)
    with pytest.raises(RuntimeError, match=r"call loss_fn\.start_epoch\(epoch\) before every"):
        training_call(loss_fn)


@pytest.mark.parametrize(("name", "switch"), [("mixed_soft_f1", "warmup"), ("ldam_drw", "defer")])
def test_an_epoch_scheduled_loss_raises_when_the_loop_runs_past_its_switch(
    name: str, switch: str
) -> None:
    loss_fn = snippet(name, params={switch: 0.2})  # the schedule switches after epoch 2 of 10
    loss_fn.start_epoch(1)
    for step in range(6):  # epoch 1 ran long: nothing switches after it, so it is let be
        training_call(loss_fn, step)
    loss_fn.start_epoch(2)
    for step in range(3):
        training_call(loss_fn, step)
    with pytest.raises(RuntimeError, match=r"more than steps_per_epoch=3 training calls"):
        training_call(loss_fn, 3)


@pytest.mark.parametrize("name", [*EPOCH_HOOKED, "mixed_auc_m"])
def test_an_epoch_scheduled_loss_with_its_hooks_trains_through_every_epoch(name: str) -> None:
    loss_fn = snippet(name)
    for epoch in range(1, 11):
        loss_fn.start_epoch(epoch)
        for step in range(3):
            assert torch.isfinite(training_call(loss_fn, step))
            if hasattr(loss_fn, "after_step"):
                loss_fn.after_step(0.05)


@pytest.mark.parametrize("name", STEP_HOOKED)
def test_a_loss_with_dual_variables_raises_on_a_second_step_without_after_step(name: str) -> None:
    loss_fn = snippet(name)
    training_call(loss_fn)
    loss_fn.after_step(0.05)
    training_call(loss_fn, 1)
    with pytest.raises(RuntimeError, match=r"call loss_fn\.after_step\(lr\) after every"):
        training_call(loss_fn, 2)


@pytest.mark.parametrize("name", STATEFUL)
def test_evaluation_calls_never_raise(name: str) -> None:
    loss_fn = snippet(name)
    outputs, targets = random_batch(Task.BINARY, n_members=1, batch=BATCH)
    with torch.no_grad():
        for _ in range(5):
            assert torch.isfinite(loss_fn(outputs[0], targets[0]))


def keras_training_steps(loss_fn: Any, steps: int) -> None:
    """Keras losses take (y_true, y_pred)."""
    for seed in range(steps):
        outputs, targets = random_batch(Task.BINARY, n_members=1, batch=BATCH, seed=seed)
        loss_fn(targets[0], outputs[0].clone().requires_grad_(True)).backward()


@pytest.mark.parametrize("name", STATEFUL)
def test_a_keras_export_raises_without_its_callbacks(name: str) -> None:
    loss_fn = snippet(name, framework="keras")
    # an epoch-scheduled loss raises at once, a step-hooked one at its second training call
    with pytest.raises(RuntimeError, match=r"callbacks=loss_fn\.callbacks\(\)"):
        keras_training_steps(loss_fn, 2)
