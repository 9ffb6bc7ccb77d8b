"""Every loss ships a self-contained PyTorch snippet that reproduces it exactly.

The snippet is rendered with a setup's values, executed with nothing but torch available, and
compared with the library's loss (values and gradients) over several epochs and steps, so
warm-ups, schedules and loss-owned variables are checked too.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.engine.losses.harness import (
    LOSS_TASK_IDS,
    LOSS_TASKS,
    MAX_EPOCHS,
    assert_snippet_reproduces,
    context,
    execute_snippet,
    random_batch,
)
from workers.engine.losses import get_loss
from workers.engine.losses.build import build_loss
from workers.engine.losses.snippets import render_snippet
from workers.engine.spec import Task

ALLOWED_IMPORTS = {"torch", "math", "collections", "typing", "__future__"}
LEARNING_RATE = 0.05


def run_snippet(source: str) -> Any:
    """Execute a rendered snippet with nothing but torch available and return its ``loss_fn``."""
    return execute_snippet(source, ALLOWED_IMPORTS)


def setup_params(name: str, task: Task) -> dict[str, float]:
    """Parameter values a third of the way into each range (away from special defaults)."""
    params = {}
    for p in get_loss(name).params_for(task):
        value = p.low + (p.high - p.low) / 3.0
        params[p.name] = float(round(value)) if p.integer else value
    return params


@pytest.mark.parametrize(("name", "task"), LOSS_TASKS, ids=LOSS_TASK_IDS)
def test_the_snippet_reproduces_the_library_loss(name: str, task: Task) -> None:
    spec = get_loss(name)
    params = setup_params(name, task)
    ctx = context(task, target_mean=3.0, target_std=2.0, target_scale=3.5)
    library = build_loss(spec, {k: torch.tensor([v]) for k, v in params.items()}, ctx)
    snippet = run_snippet(render_snippet(name, task, params, ctx, spec.reference))

    for step, epoch in enumerate((1, 1, 2, 3, MAX_EPOCHS)):
        library.start_epoch(epoch)
        if hasattr(snippet, "start_epoch"):
            snippet.start_epoch(epoch)
        outputs, targets = random_batch(task, n_members=1, batch=24, seed=step)
        assert_snippet_reproduces(library, snippet, outputs, targets)
        library.after_step(torch.tensor([LEARNING_RATE]))
        if hasattr(snippet, "after_step"):
            snippet.after_step(LEARNING_RATE)


def test_a_rendered_snippet_states_the_setup_it_reproduces() -> None:
    ctx = context(Task.BINARY)
    source = render_snippet("focal", Task.BINARY, {"gamma": 2.0, "alpha": 0.25}, ctx, "Lin 2017")
    assert source.startswith("# Loss found by loss-search: focal for a binary task.")
    assert "# Reference: Lin 2017" in source
    assert "\nloss_fn = make_loss(task='binary', gamma=2.0, alpha=0.25)\n" in source
    assert "\ndef predict(logits):" in source


def test_a_regression_snippet_says_how_targets_and_predictions_are_scaled() -> None:
    ctx = context(Task.REGRESSION, target_mean=5.5, target_std=0.75, target_scale=5.6)
    source = render_snippet("mae", Task.REGRESSION, {}, ctx)
    assert "# Targets: (y - 5.5) / 0.75; predictions: outputs * 0.75 + 5.5." in source
    log_link = render_snippet("poisson_nll", Task.REGRESSION, {}, ctx, link="log")
    assert "# Targets: (y - 5.5) / 0.75; predictions: exp(outputs) * 5.6 (log link)." in log_link
    assert "outputs * 0.75 + 5.5" not in log_link  # a log-link output is not a standardised one


@pytest.mark.parametrize("name", ["soft_f1", "sigmoid_f1"])
@pytest.mark.parametrize(
    ("task", "metric"),
    [
        (Task.MULTILABEL, "micro_f1"),
        (Task.MULTILABEL, "samples_f1"),
        (Task.MULTICLASS, "weighted_f1"),
    ],
)
def test_the_f_score_snippets_average_as_their_metric_does(
    name: str, task: Task, metric: str
) -> None:
    spec = get_loss(name)
    params = setup_params(name, task)
    ctx = context(task, metric=metric)
    library = build_loss(spec, {k: torch.tensor([v]) for k, v in params.items()}, ctx)
    source = render_snippet(name, task, params, ctx)
    assert f"average={ctx.average!r}" in source
    snippet = run_snippet(source)
    outputs, targets = random_batch(task, n_members=1, batch=24, seed=3)
    torch.testing.assert_close(snippet(outputs[0], targets[0]), library(outputs, targets)[0])
