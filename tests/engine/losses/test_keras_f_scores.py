"""The Keras exports of the F-score losses average over columns as their metric does."""

from __future__ import annotations

import pytest
import torch

from tests.engine.losses.harness import assert_snippet_reproduces, context, random_batch
from tests.engine.losses.keras_backend import run_keras_snippet
from tests.engine.losses.test_snippets import setup_params
from workers.engine.losses import get_loss
from workers.engine.losses.build import build_loss
from workers.engine.losses.snippets import render_snippet
from workers.engine.spec import Task


@pytest.mark.parametrize("name", ["soft_f1", "sigmoid_f1", "sigmoid_f1_prob"])
@pytest.mark.parametrize(
    ("task", "metric"),
    [
        (Task.MULTILABEL, "micro_f1"),
        (Task.MULTILABEL, "samples_f1"),
        (Task.MULTILABEL, "weighted_f1"),
        (Task.MULTICLASS, "weighted_f1"),
    ],
)
def test_the_keras_f_score_exports_average_as_their_metric_does(
    name: str, task: Task, metric: str
) -> None:
    spec = get_loss(name)
    params = setup_params(name, task)
    ctx = context(task, metric=metric)
    library = build_loss(spec, {k: torch.tensor([v]) for k, v in params.items()}, ctx)
    source = render_snippet(name, task, params, ctx, framework="keras")
    assert f"average={ctx.average!r}" in source
    exported = run_keras_snippet(source)
    outputs, targets = random_batch(task, n_members=1, batch=24, seed=3)
    assert_snippet_reproduces(library, exported, outputs, targets, keras=True)


def test_the_keras_weighted_f_score_is_the_plain_mean_without_positives() -> None:
    ctx = context(Task.MULTILABEL, metric="weighted_f1")
    spec = get_loss("soft_f1")
    library = build_loss(spec, {}, ctx)
    exported = run_keras_snippet(
        render_snippet("soft_f1", Task.MULTILABEL, {}, ctx, framework="keras")
    )
    outputs, _ = random_batch(Task.MULTILABEL, n_members=1, batch=24, seed=3)
    targets = torch.zeros_like(outputs)
    theirs = outputs[0].clone().requires_grad_(True)
    reproduced = exported(targets[0], theirs)
    torch.testing.assert_close(reproduced, library(outputs, targets)[0], rtol=1e-5, atol=1e-6)
    reproduced.backward()
    assert theirs.grad is not None
    assert torch.isfinite(theirs.grad).all()
