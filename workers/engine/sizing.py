"""Choosing how many trials to train at once: as many as memory allows, up to a cap.

The estimate counts, per member and in float32: parameters with their gradient and the two
AdamW moments (and a copy of the best weights), the activations of a training batch and their
gradients, the per-member copy of the batch's inputs, the validation forward pass, and for
batch-level losses the pairwise (batch x batch) terms some of them build. Members are cheap on
purpose: the point of a population is that most of a small model's time is overhead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from workers.engine.networks import NetworkShape

BYTES_PER_FLOAT = 4
MEMORY_FRACTION = 0.5  # of what is free now; the rest is left for everything else


@dataclass(frozen=True)
class PopulationSize:
    """The chosen population size and the numbers behind it."""

    members: int
    bytes_per_member: int
    memory_bound: int
    reason: str


def bytes_per_member(
    shape: NetworkShape, batch_size: int, n_validation: int, pairwise_outputs: int = 1
) -> int:
    """An upper estimate of one member's memory while it trains.

    ``pairwise_outputs`` is how many score columns a pairwise loss may compare across the batch
    (1 for binary, the label count for multilabel, 0 where no loss builds batch x batch terms).
    """
    widths = sum(shape.hidden) + shape.n_outputs
    parameters = 5 * shape.n_parameters  # weights, grad, two AdamW moments, best copy
    batch = 3 * batch_size * widths + batch_size * shape.n_inputs  # activations, grads, inputs
    validation = n_validation * widths
    pairs = 3 * batch_size * batch_size * pairwise_outputs
    return BYTES_PER_FLOAT * (parameters + batch + validation + pairs)


def free_memory(device: torch.device) -> int:
    """Bytes free on ``device`` now (CUDA: free device memory; CPU: available RAM)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError):  # not Linux: assume a modest machine
        return 2 * 1024**3


def choose_population_size(
    shape: NetworkShape,
    batch_size: int,
    n_validation: int,
    device: torch.device,
    cap: int,
    memory_bound: int | None = None,
    pairwise_outputs: int = 1,
) -> PopulationSize:
    """How many members to train together: ``cap``, or fewer if memory would not hold them.

    ``memory_bound`` defaults to half the memory free on ``device``.
    """
    bound = memory_bound if memory_bound is not None else int(MEMORY_FRACTION * free_memory(device))
    per_member = bytes_per_member(shape, batch_size, n_validation, pairwise_outputs)
    fits = max(1, bound // per_member)
    members = int(min(cap, fits))
    reason = "cap" if members == cap else "memory"
    return PopulationSize(members, per_member, bound, reason)
