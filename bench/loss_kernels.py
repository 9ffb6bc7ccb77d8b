"""Each loss written once? The library's population loss beside its snippet vmapped over members.

    python -m bench.loss_kernels [--members 1,8,32] [--batch 256] [--repeats 200] [--device cpu]

For every catalogue loss and task (mixtures aside: they are assembled from other losses), it
builds the loss the engine uses today (``build_loss``) and the same loss as its snippet under
``torch.func.vmap`` (:class:`VmappedSnippetLoss`, below), checks that the two agree (values
and gradients, per member, members spread over each parameter's range) and times one training
step's loss work, forward and backward, for populations of several sizes. Prints a markdown
table: whether the snippet runs vmapped (a Python branch on a parameter or on the data does not),
the largest disagreement, microseconds per step for each, and vmapped / library.

A loss that keeps state across steps is listed but not vmapped (its snippet holds the state).

This is the measurement behind issue 11's "each loss written once": on this machine's CPU the
vmapped snippets were slower than the hand-batched losses at every population size above one
(see docs/performance.md), so the engine keeps its hand-batched losses and the snippet tests
hold each snippet to its library loss, values and gradients.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import statistics
import time
import warnings
from collections.abc import Callable, Mapping
from functools import cache

import torch
from torch import Tensor

from bench.common import machine, table
from workers.engine.losses import LOSSES
from workers.engine.losses.base import Loss, LossBuilder, LossContext, member_param
from workers.engine.losses.build import build_loss
from workers.engine.losses.catalogue.mixture import MIXTURE_PREFIX
from workers.engine.spec import Task

N_OUTPUTS = {Task.BINARY: 1, Task.MULTICLASS: 4, Task.MULTILABEL: 4, Task.REGRESSION: 1}
COUNTS = {
    Task.BINARY: [900.0, 100.0],
    Task.MULTICLASS: [500.0, 300.0, 150.0, 50.0],
    Task.MULTILABEL: [300.0, 100.0, 50.0, 10.0],
    Task.REGRESSION: [1.0],
}
METRIC_PARAMS: dict[str, float | str] = {"min_precision": 0.8, "min_recall": 0.8, "quantile": 0.5}
MAX_EPOCHS = 10

SNIPPET_PACKAGE = "workers.engine.losses.snippets"

# make_loss(**values) -> loss_fn(outputs, targets) -> scalar, for one model.
MakeLoss = Callable[..., Callable[[Tensor, Tensor], Tensor]]


@cache
def snippet_make_loss(name: str) -> MakeLoss:
    """The ``make_loss`` function of loss ``name``'s snippet module."""
    module = importlib.import_module(f"{SNIPPET_PACKAGE}.{name}")
    make_loss: MakeLoss = module.make_loss
    return make_loss


def context_arguments(make_loss: MakeLoss, ctx: LossContext) -> dict[str, object]:
    """The job's values (task, class counts, metric parameters...) that ``make_loss`` takes."""
    wanted = inspect.signature(make_loss).parameters
    available: dict[str, object] = {"task": ctx.task.value, **ctx.snippet_values()}
    return {name: value for name, value in available.items() if name in wanted}


class VmappedSnippetLoss(Loss):
    """A snippet's loss for a group of members: one vmapped call over the member axis.

    Each searched parameter is a buffer of shape ``(M,)`` (so :meth:`select` and :meth:`extend`
    work as for any loss); inside the vmapped call the snippet sees one member's value as a
    0-d tensor.
    """

    def __init__(
        self, name: str, context: Mapping[str, object], params: Mapping[str, Tensor]
    ) -> None:
        super().__init__()
        self.name = name
        self.make_loss = snippet_make_loss(name)
        self.context = dict(context)
        self.param_names = tuple(params)
        for param, values in params.items():
            # Prefixed: a parameter name must not shadow a module attribute ("training"...).
            self.register_buffer(f"param_{param}", values)

    def _one_member(self, outputs: Tensor, targets: Tensor, *values: Tensor) -> Tensor:
        loss_fn = self.make_loss(**self.context, **dict(zip(self.param_names, values, strict=True)))
        return loss_fn(outputs, targets)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        values = [getattr(self, f"param_{param}") for param in self.param_names]
        if outputs.shape[0] == 1:
            # One member (most groups in a population of varied losses): the snippet itself,
            # without vmap's per-operation dispatch cost.
            alone = self._one_member(outputs[0], targets[0], *(v[0] for v in values))
            return alone.reshape(1)
        return torch.func.vmap(self._one_member)(outputs, targets, *values)

    def extend(self, other: Loss) -> None:
        if not isinstance(other, VmappedSnippetLoss) or other.name != self.name:
            raise TypeError(f"cannot extend the {self.name!r} loss with {other!r}")
        super().extend(other)


def snippet_builder(name: str) -> LossBuilder:
    """The builder of a loss whose snippet serves the population (vmapped over members)."""

    def build(params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
        make_loss = snippet_make_loss(name)
        searched = {param: member_param(params, param).to(ctx.device) for param in params}
        return VmappedSnippetLoss(name, context_arguments(make_loss, ctx), searched)

    return build


def loss_context(task: Task, device: torch.device) -> LossContext:
    """A job's context for ``task``: 1,000 training rows, imbalanced classes."""
    return LossContext(
        task=task,
        n_outputs=N_OUTPUTS[task],
        class_counts=torch.tensor(COUNTS[task], device=device),
        device=device,
        n_train=1000,
        max_epochs=MAX_EPOCHS,
        metric_params=METRIC_PARAMS,
    )


def spread(name: str, task: Task, members: int, device: torch.device) -> dict[str, Tensor]:
    """Each searched parameter from near its low to near its high end, one value per member."""
    params = {}
    for p in LOSSES[name].params_for(task):
        fractions = torch.linspace(0.1, 0.9, members, dtype=torch.float64)
        values = p.low + fractions * (p.high - p.low)
        params[p.name] = (values.round() if p.integer else values).float().to(device)
    return params


def batch(task: Task, members: int, rows: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Random outputs (requiring grad) and targets in the trainer's shapes."""
    generator = torch.Generator().manual_seed(members * 1000 + rows)
    width = N_OUTPUTS[task]
    shape = (
        (members, rows, width) if task in (Task.MULTICLASS, Task.MULTILABEL) else (members, rows)
    )
    outputs = torch.randn(shape, generator=generator) * 2.0
    if task is Task.MULTICLASS:
        targets = torch.randint(0, width, (members, rows), generator=generator)
    elif task is Task.REGRESSION:
        targets = torch.randn(shape, generator=generator)
    else:
        targets = (torch.rand(shape, generator=generator) < 0.2).float()
    return outputs.to(device).requires_grad_(), targets.to(device)


def step_seconds(loss: Loss, outputs: Tensor, targets: Tensor, repeats: int) -> float:
    """Median seconds of forward + backward of the summed member losses."""
    timings = []
    for i in range(repeats + 5):
        started = time.perf_counter()
        loss(outputs, targets).sum().backward()
        outputs.grad = None
        if outputs.device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 5:  # warm-up
            timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def disagreement(library: Loss, vmapped: Loss, outputs: Tensor, targets: Tensor) -> float:
    """Largest absolute difference in per-member values and in gradients."""

    def value_and_grad(loss: Loss) -> tuple[Tensor, Tensor]:
        values = loss(outputs, targets)
        (grad,) = torch.autograd.grad(values.sum(), outputs)
        return values.detach(), grad

    (v1, g1), (v2, g2) = value_and_grad(library), value_and_grad(vmapped)
    return max((v1 - v2).abs().max().item(), (g1 - g2).abs().max().item())


def is_stateful(loss: Loss) -> bool:
    """Whether the loss changes with epochs or steps (warm-ups, schedules, own variables)."""
    return type(loss).start_epoch is not Loss.start_epoch or type(loss).after_step is not (
        Loss.after_step
    )


def measure(name: str, task: Task, args: argparse.Namespace) -> list[object]:
    device = torch.device(args.device)
    ctx = loss_context(task, device)
    row: list[object] = [name, task.value]

    def make(members: int) -> tuple[Loss, Loss | str]:
        params = spread(name, task, members, device)
        library = build_loss(LOSSES[name], params, ctx)
        library.start_epoch(MAX_EPOCHS)
        if is_stateful(library):
            return library, "keeps state"
        try:
            return library, snippet_builder(name)(params, ctx)
        except Exception as error:  # a snippet that cannot be built for a population
            return library, f"build: {type(error).__name__}"

    library, vmapped = make(max(args.members))
    if isinstance(vmapped, str):
        return [*row, vmapped, "", *([""] * (3 * len(args.members)))]
    outputs, targets = batch(task, max(args.members), args.batch, device)
    try:
        gap = disagreement(library, vmapped, outputs, targets)
    except Exception as error:  # data-dependent branches and the like
        reason = str(error).splitlines()[0][:60]
        return [*row, f"no: {reason}", "", *([""] * (3 * len(args.members)))]
    row += ["yes", f"{gap:.1e}"]
    for members in args.members:
        library, vmapped_loss = make(members)
        assert isinstance(vmapped_loss, Loss)
        outputs, targets = batch(task, members, args.batch, device)
        mine = step_seconds(library, outputs, targets, args.repeats)
        theirs = step_seconds(vmapped_loss, outputs, targets, args.repeats)
        row += [round(mine * 1e6), round(theirs * 1e6), round(theirs / mine, 2)]
    return row


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; ``members`` becomes a list of population sizes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", default="1,8,32")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--losses", default="", help="comma-separated subset")
    args = parser.parse_args(argv)
    args.members = [int(m) for m in args.members.split(",")]
    return args


def main() -> None:
    args = parse_args()
    # The snippets' scalar set-up code warns under vmap (copy-construct, batching fallbacks).
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(args.threads)
    wanted = set(args.losses.split(",")) if args.losses else None
    rows = [
        measure(name, task, args)
        for name, spec in sorted(LOSSES.items())
        if not name.startswith(MIXTURE_PREFIX) and (wanted is None or name in wanted)
        for task in sorted(spec.tasks)
    ]
    headers = ["loss", "task", "vmaps", "max |diff|"]
    for members in args.members:
        headers += [f"library µs M={members}", f"vmapped µs M={members}", f"ratio M={members}"]
    print(f"Machine: {machine()}; batch {args.batch}, {args.threads} thread(s)\n")
    print(table(headers, rows))


if __name__ == "__main__":
    main()
