"""The model: a multi-layer perceptron, held as a population of M independent copies.

Every layer's weights are one tensor of shape ``(M, fan_in, fan_out)``; a forward pass is one
batched matrix multiply per layer for all members, which is what makes training many trials at
once cheap. Member ``m``'s output depends on member ``m``'s weights only.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

MIN_WIDTH = 32
MAX_WIDTH = 256
DEPTH = 2


@dataclass(frozen=True)
class NetworkShape:
    """Layer widths of the MLP: inputs, hidden layers, outputs."""

    n_inputs: int
    hidden: tuple[int, ...]
    n_outputs: int

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.n_inputs, *self.hidden, self.n_outputs)

    @property
    def n_parameters(self) -> int:
        widths = self.widths
        return sum((a + 1) * b for a, b in itertools.pairwise(widths))

    def describe(self) -> dict[str, object]:
        return {"type": "mlp", "hidden": list(self.hidden), "activation": "relu"}


def network_shape(n_features: int, n_outputs: int) -> NetworkShape:
    """Size the MLP from the data: hidden width 2x the features, rounded to a power of two."""
    width = 2 ** math.ceil(math.log2(max(2 * n_features, 1)))
    width = min(max(width, MIN_WIDTH), MAX_WIDTH)
    return NetworkShape(n_features, (width,) * DEPTH, n_outputs)


def init_parameters(shape: NetworkShape, seeds: list[int], device: torch.device) -> list[Tensor]:
    """Weights and biases for each member, drawn from that member's own seed.

    Same distribution as ``torch.nn.Linear``'s default: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.
    Drawn on the CPU so a seed gives the same initial model on every device.
    Returns ``[W1, b1, W2, b2, ...]`` with shapes ``(M, fan_in, fan_out)`` and ``(M, 1, fan_out)``.
    """
    layers = list(zip(shape.widths[:-1], shape.widths[1:], strict=True))
    shapes = [dims for fan_in, fan_out in layers for dims in ((fan_in, fan_out), (1, fan_out))]
    drawn: list[list[Tensor]] = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        member: list[Tensor] = []
        for dims in shapes:
            # weight (fan_in, fan_out) then bias (1, fan_out), both bounded by the layer's fan-in
            bound = 1.0 / math.sqrt(layers[len(member) // 2][0])
            member.append(torch.empty(*dims).uniform_(-bound, bound, generator=generator))
        drawn.append(member)
    stacked = [
        torch.stack([member[i] for member in drawn]) if drawn else torch.empty(0, *dims)
        for i, dims in enumerate(shapes)
    ]
    return [tensor.to(device).requires_grad_() for tensor in stacked]


def forward(parameters: list[Tensor], inputs: Tensor) -> Tensor:
    """Outputs of every member.

    Args:
        parameters: as returned by :func:`init_parameters`.
        inputs: ``(M, B, n_inputs)`` (each member its own batch) or ``(N, n_inputs)`` (shared).

    Returns:
        ``(M, B)`` for one output unit, else ``(M, B, n_outputs)``.
    """
    hidden = inputs
    n_layers = len(parameters) // 2
    for layer in range(n_layers):
        weight, bias = parameters[2 * layer], parameters[2 * layer + 1]
        if hidden.dim() == 3:
            hidden = torch.baddbmm(bias, hidden, weight)  # one fused kernel per layer
        else:
            hidden = torch.matmul(hidden, weight) + bias
        if layer < n_layers - 1:
            hidden = torch.relu(hidden)
    return hidden.squeeze(-1) if hidden.shape[-1] == 1 else hidden
