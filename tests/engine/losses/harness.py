"""Building losses and batches in the shapes the trainer uses, for the loss tests.

Shapes (see ``workers.engine.losses.base``): outputs ``(M, B)`` for binary and regression,
``(M, B, C)`` for multiclass, ``(M, B, L)`` for multilabel; targets ``(M, B)`` or ``(M, B, L)``;
per-member parameters ``(M,)``; result ``(M,)``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from workers.engine.losses import LOSSES, get_loss
from workers.engine.losses.base import Loss, LossContext
from workers.engine.losses.build import build_loss
from workers.engine.param_values import CostMatrix
from workers.engine.spec import Task

LN2, LN3, LN4 = math.log(2.0), math.log(3.0), math.log(4.0)
N_CLASSES = 3
N_LABELS = 3
N_TRAIN = 60
MAX_EPOCHS = 10

# Every (loss, task) pair the catalogue supports.
LOSS_TASKS = [(name, task) for name, spec in LOSSES.items() for task in sorted(spec.tasks)]
LOSS_TASK_IDS = [f"{name}-{task.value}" for name, task in LOSS_TASKS]

DEFAULT_COUNTS = {
    Task.BINARY: [40.0, 20.0],
    Task.MULTICLASS: [30.0, 20.0, 10.0],
    Task.MULTILABEL: [30.0, 10.0, 3.0],  # positives per label out of N_TRAIN
    Task.REGRESSION: [1.0],
}
DEFAULT_METRIC_PARAMS: dict[str, float | str] = {
    "min_precision": 0.8,
    "min_recall": 0.8,
    "beta": 1.0,
    "quantile": 0.5,
}


def context(
    task: Task,
    *,
    class_counts: Sequence[float] | None = None,
    n_train: int = N_TRAIN,
    max_epochs: int = MAX_EPOCHS,
    metric: str = "",
    metric_params: Mapping[str, float | str | CostMatrix] | None = None,
    target_mean: float = 0.0,
    target_std: float = 1.0,
    target_scale: float = 1.0,
    soft_targets: bool = False,
    members: int = 1,
) -> LossContext:
    counts = list(class_counts) if class_counts is not None else DEFAULT_COUNTS[task]
    n_outputs = len(counts) if task in (Task.MULTICLASS, Task.MULTILABEL) else 1
    return LossContext(
        task=task,
        n_outputs=n_outputs,
        class_counts=torch.tensor(counts, dtype=torch.float32),
        device=torch.device("cpu"),
        n_train=n_train,
        max_epochs=max_epochs,
        metric=metric,
        metric_params=dict(metric_params or DEFAULT_METRIC_PARAMS),
        target_mean=target_mean,
        target_std=target_std,
        target_scale=target_scale,
        soft_targets=soft_targets,
        members=members,
    )


def build(
    name: str,
    task: Task,
    params: Mapping[str, Sequence[float]] | None = None,
    members: int | None = None,
    **context_overrides: object,
) -> Loss:
    """Build a loss through the catalogue, as the trainer does, for ``members`` members (by
    default as many as each parameter has values, or one)."""
    tensors = {key: torch.tensor(list(values)) for key, values in (params or {}).items()}
    count = members or next((len(t) for t in tensors.values()), 1)
    ctx = context(task, members=count, **context_overrides)  # type: ignore[arg-type]
    return build_loss(get_loss(name), tensors, ctx)


def spread_params(name: str, task: Task, n_members: int) -> dict[str, list[float]]:
    """Each searched parameter from its low to its high end, one value per member."""
    params: dict[str, list[float]] = {}
    for p in get_loss(name).params_for(task):
        step = (p.high - p.low) / max(n_members - 1, 1)
        values = [p.low + i * step for i in range(n_members)]
        params[p.name] = [float(round(v)) for v in values] if p.integer else values
    return params


def build_spread(name: str, task: Task, n_members: int) -> Loss:
    """Members spread over every parameter's range, at the last epoch (warm-ups over)."""
    loss = build(name, task, spread_params(name, task, n_members), members=n_members)
    loss.start_epoch(MAX_EPOCHS)
    return loss


def random_batch(task: Task, n_members: int, batch: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Random outputs and targets in the shapes the trainer passes for ``task``."""
    generator = torch.Generator().manual_seed(seed)
    if task is Task.MULTICLASS:
        outputs = torch.randn(n_members, batch, N_CLASSES, generator=generator)
        targets = torch.randint(0, N_CLASSES, (n_members, batch), generator=generator)
        return outputs, targets
    if task is Task.MULTILABEL:
        outputs = torch.randn(n_members, batch, N_LABELS, generator=generator) * 2.0
        targets = torch.randint(0, 2, (n_members, batch, N_LABELS), generator=generator).float()
        return outputs, targets
    outputs = torch.randn(n_members, batch, generator=generator) * 2.0
    if task is Task.BINARY:
        return outputs, torch.randint(0, 2, (n_members, batch), generator=generator).float()
    return outputs, torch.randn(n_members, batch, generator=generator)


def soft_batch(n_members: int, batch: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Multiclass outputs and soft targets (M, B, C): distributions, some with zeros."""
    generator = torch.Generator().manual_seed(seed)
    outputs = torch.randn(n_members, batch, N_CLASSES, generator=generator) * 2.0
    raw = torch.rand(n_members, batch, N_CLASSES, generator=generator)
    raw[..., 0] = raw[..., 0] * (torch.rand(n_members, batch, generator=generator) < 0.7)
    return outputs, raw / raw.sum(dim=-1, keepdim=True)


def extreme_batch(task: Task, kind: str) -> tuple[Tensor, Tensor]:
    """Two members, logits at +-50 both on and off the true class, in one of three batch kinds:
    ``no_positives``, ``only_positives`` or ``single`` (one example)."""
    batch = 1 if kind == "single" else 6
    if kind == "no_positives":
        labels = [0] * batch
    elif kind == "only_positives":
        labels = [1 if task is not Task.MULTICLASS else N_CLASSES - 1] * batch
    else:
        labels = [1]
    signs = [50.0 if i % 2 == 0 else -50.0 for i in range(batch)]
    if task is Task.MULTICLASS:
        rows = []
        for i in range(batch):
            row = [-50.0] * N_CLASSES
            row[i % N_CLASSES] = 50.0
            rows.append(row)
        outputs = torch.tensor([rows, [[-v for v in row] for row in rows]])
        return outputs, torch.tensor([labels, labels])
    if task is Task.MULTILABEL:
        grid = torch.tensor([[s * (-1) ** j for j in range(N_LABELS)] for s in signs])
        label_grid = torch.tensor([[float(y)] * N_LABELS for y in labels])
        return torch.stack([grid, -grid]), torch.stack([label_grid, label_grid])
    outputs = torch.tensor([signs, [-s for s in signs]])
    if task is Task.REGRESSION:
        return outputs, torch.tensor([[float(y) * 3.0 for y in labels]] * 2)
    targets = torch.tensor([labels, labels], dtype=torch.float32)
    return outputs, targets


def t(rows: Sequence[Sequence[float]]) -> Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def assert_snippet_reproduces(
    library: Loss,
    snippet: Callable[..., Tensor],
    outputs: Tensor,
    targets: Tensor,
    *,
    keras: bool = False,
) -> None:
    """The snippet gives the library's loss (rtol 1e-5, atol 1e-6) and gradient (rtol 1e-4,
    atol 1e-6) for member 0 of a one-member batch. A Keras loss takes ``(y_true, y_pred)``."""
    ours = outputs.clone().requires_grad_(True)
    theirs = outputs[0].clone().requires_grad_(True)
    value = library(ours, targets)
    reproduced = snippet(targets[0], theirs) if keras else snippet(theirs, targets[0])
    assert reproduced.shape == ()
    torch.testing.assert_close(reproduced, value[0], rtol=1e-5, atol=1e-6)
    value.sum().backward()
    reproduced.backward()  # type: ignore[no-untyped-call]
    assert ours.grad is not None
    assert theirs.grad is not None
    torch.testing.assert_close(theirs.grad, ours.grad[0], rtol=1e-4, atol=1e-6)


def execute_snippet(source: str, allowed_imports: set[str]) -> Any:
    """Execute a rendered snippet in a fresh namespace and return its ``loss_fn``, refusing any
    import outside ``allowed_imports`` (a snippet must stand alone)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots = {(node.module or "").split(".")[0]}
        else:
            continue
        assert roots <= allowed_imports, f"snippet imports {roots - allowed_imports}"
    namespace: dict[str, Any] = {"__name__": "loss_snippet"}
    exec(compile(tree, "<snippet>", "exec"), namespace)
    return namespace["loss_fn"]
