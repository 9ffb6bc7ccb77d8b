"""The FLOP floor of a search: its counted multiply-adds at this machine's measured matmul rate.

A trial of the MLP does, per training row and epoch, one forward and one backward pass: the
forward pass is one ``fan_in x fan_out`` multiply-add per weight of each layer, the backward
pass twice that (the gradient with respect to the layer's input and to its weights), so about
3x the forward count. Each evaluation adds one forward pass over the validation rows. Biases,
activations, the loss, the optimiser and everything else are left out: the floor is the
arithmetic the search cannot avoid.

The rate is measured on the same layer shapes and batch size, on the same device and threads,
in the same run: the three matmuls of a training step for every layer (``x @ W``,
``g @ W.T``, ``x.T @ g``), timed for one model (``torch.matmul``) and for a stack of
``members`` models (``torch.bmm``, as a population runs them), best of a few repetitions.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence

import torch

from workers.engine.networks import NetworkShape


def forward_macs(shape: NetworkShape) -> int:
    """Multiply-adds of one forward pass of one row through the MLP's weight matrices."""
    return sum(a * b for a, b in itertools.pairwise(shape.widths))


def search_macs(
    shape: NetworkShape,
    n_train: int,
    n_validation: int,
    epochs: Sequence[int],
    eval_every: int,
) -> int:
    """Multiply-adds of trials that trained ``epochs`` epochs each (one entry per trial)."""
    per_row = forward_macs(shape)
    total = 0
    for trained in epochs:
        evaluations = math.ceil(trained / eval_every)
        total += 3 * per_row * n_train * trained + per_row * n_validation * evaluations
    return total


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_rate(
    shape: NetworkShape,
    batch_size: int,
    members: int,
    device: torch.device,
    repetitions: int = 5,
    steps: int = 50,
) -> float:
    """Multiply-adds per second of the layer matmuls of training steps of ``members`` models
    (one: plain matmuls; more: batched, one ``bmm`` per product for all of them)."""
    generator = torch.Generator().manual_seed(0)
    layers = []
    for fan_in, fan_out in itertools.pairwise(shape.widths):
        dims = (members,) if members > 1 else ()
        x = torch.randn(*dims, batch_size, fan_in, generator=generator).to(device)
        w = torch.randn(*dims, fan_in, fan_out, generator=generator).to(device)
        g = torch.randn(*dims, batch_size, fan_out, generator=generator).to(device)
        layers.append((x, w, g))
    macs_per_step = 3 * forward_macs(shape) * batch_size * members

    def step() -> None:
        for x, w, g in layers:
            torch.matmul(x, w)
            torch.matmul(g, w.transpose(-1, -2))
            torch.matmul(x.transpose(-1, -2), g)

    with torch.no_grad():
        for _ in range(3):  # warm up (allocator, kernels, thread pool)
            step()
        best = math.inf
        for _ in range(repetitions):
            _synchronize(device)
            started = time.perf_counter()
            for _ in range(steps):
                step()
            _synchronize(device)
            best = min(best, time.perf_counter() - started)
    return macs_per_step * steps / best
