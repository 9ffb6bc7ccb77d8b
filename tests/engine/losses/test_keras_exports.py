"""Every loss ships Keras 3 code (``keras.ops`` only) that reproduces it.

Each export is rendered with a setup's values, executed with nothing but keras available, on
Keras's PyTorch backend, and compared with the library's loss over several epochs and steps
(values to rtol 1e-5 / atol 1e-6, gradients to rtol 1e-4 / atol 1e-6, as the PyTorch snippets),
so warm-ups, schedules and loss-owned variables are checked too.
"""

from __future__ import annotations

import pytest
import torch

from tests.engine.losses.harness import (
    LOSS_TASK_IDS,
    LOSS_TASKS,
    MAX_EPOCHS,
    assert_snippet_reproduces,
    context,
    random_batch,
)
from tests.engine.losses.keras_backend import run_keras_snippet
from tests.engine.losses.test_snippets import LEARNING_RATE, setup_params
from workers.engine.losses import get_loss
from workers.engine.losses.build import build_loss
from workers.engine.losses.snippets import has_snippet, render_snippet
from workers.engine.spec import Task


@pytest.mark.parametrize(("name", "task"), LOSS_TASKS, ids=LOSS_TASK_IDS)
def test_the_keras_export_reproduces_the_library_loss(name: str, task: Task) -> None:
    assert has_snippet(name, "keras"), f"{name} has no Keras export"
    spec = get_loss(name)
    params = setup_params(name, task)
    ctx = context(task, target_mean=3.0, target_std=2.0, target_scale=3.5)
    library = build_loss(spec, {k: torch.tensor([v]) for k, v in params.items()}, ctx)
    exported = run_keras_snippet(
        render_snippet(name, task, params, ctx, spec.reference, framework="keras")
    )

    for step, epoch in enumerate((1, 1, 2, 3, MAX_EPOCHS)):
        library.start_epoch(epoch)
        if hasattr(exported, "start_epoch"):
            exported.start_epoch(epoch)
        outputs, targets = random_batch(task, n_members=1, batch=24, seed=step)
        assert_snippet_reproduces(library, exported, outputs, targets, keras=True)
        library.after_step(torch.tensor([LEARNING_RATE]))
        if hasattr(exported, "after_step"):
            exported.after_step(LEARNING_RATE)


# Multilabel tensors are (B, L) already.
FLAT_TASKS = [(name, task) for name, task in LOSS_TASKS if task is not Task.MULTILABEL]


@pytest.mark.parametrize(
    ("name", "task"), FLAT_TASKS, ids=[f"{name}-{task.value}" for name, task in FLAT_TASKS]
)
def test_a_keras_export_takes_the_column_shapes_keras_models_produce(name: str, task: Task) -> None:
    """Binary and regression models end in Dense(1): (B, 1) outputs and often (B, 1) targets;
    class codes may come as (B, 1) too. Each gives the same loss as the flat shapes."""
    ctx = context(task, target_mean=3.0, target_std=2.0, target_scale=3.5)
    source = render_snippet(name, task, setup_params(name, task), ctx, framework="keras")
    outputs, targets = random_batch(task, n_members=1, batch=24, seed=7)
    columns = targets[0][:, None]
    flat_outputs = outputs[0]
    column_outputs = flat_outputs if task is Task.MULTICLASS else flat_outputs[:, None]
    values = []
    for y_true, y_pred in ((targets[0], flat_outputs), (columns, column_outputs)):
        exported = run_keras_snippet(source)
        if hasattr(exported, "start_epoch"):
            exported.start_epoch(1)
        values.append(exported(y_true, y_pred))
    torch.testing.assert_close(values[1], values[0])
