"""Keras exports on soft targets (multiclass rows that are label distributions): every loss that
takes them reproduces the library loss, values and gradients, as its PyTorch snippet does
(test_soft_targets.py), on Keras's PyTorch backend."""

from __future__ import annotations

import pytest

from tests.engine.losses.harness import assert_snippet_reproduces, build, context, soft_batch
from tests.engine.losses.keras_backend import run_keras_snippet
from workers.engine.losses import LOSSES, get_loss
from workers.engine.losses.snippets import render_snippet
from workers.engine.spec import Task

SOFT_LOSSES = sorted(name for name, spec in LOSSES.items() if spec.soft_targets)


@pytest.mark.parametrize("name", SOFT_LOSSES)
def test_the_keras_export_reproduces_the_library_loss_on_soft_targets(name: str) -> None:
    spec = get_loss(name)
    ctx = context(Task.MULTICLASS, soft_targets=True)
    library = build(name, Task.MULTICLASS, soft_targets=True)
    source = render_snippet(name, Task.MULTICLASS, {}, ctx, spec.reference, framework="keras")
    assert "soft targets (batch, classes)" in source
    exported = run_keras_snippet(source)
    for seed in range(3):
        outputs, targets = soft_batch(n_members=1, batch=24, seed=seed)
        assert_snippet_reproduces(library, exported, outputs, targets, keras=True)
