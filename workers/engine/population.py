"""A population of models trained in lockstep: parameters, optimiser, losses and data order.

Members are independent by construction: their own initial weights, data order, learning rate,
step count, epoch count, loss and loss parameters. Members that use the same loss share one loss
module (with per-member parameter tensors), so the members are kept ordered by loss and each
loss serves one contiguous block; losses whose modules share a ``fusion_key`` (one module class
with per-member parameters for all of them, such as the sigmoid cross-entropies) share one block,
which costs a population step far less than a block per loss. Members can join
(:meth:`Population.add`) and leave (:meth:`Population.keep`) between epochs: finished members
cost nothing further, and their places are filled with new trials so the population stays full.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from workers.engine.losses import get_loss
from workers.engine.losses.base import Loss, LossContext
from workers.engine.losses.build import build_loss
from workers.engine.networks import NetworkShape, forward, init_parameters
from workers.engine.optim import PopulationAdamW


@dataclass(frozen=True)
class MemberConfig:
    """One trial's training configuration."""

    loss: str
    loss_params: Mapping[str, float] = field(default_factory=dict)
    learning_rate: float = 1e-3
    seed: int = 0
    batch_size: int | None = None  # None: the job's default
    # The training rows this member learns from (positions in the training split), or None for
    # all of them. Members of one population that set rows must set as many rows each: they
    # take their batches in lockstep (the cross-fitted gate trains every fold this way at once).
    rows: tuple[int, ...] | None = None


@dataclass
class _LossBlock:
    name: str  # the loss, or the fusion key of the losses it serves
    module: Loss
    start: int
    stop: int
    stateful: bool = False  # the loss updates variables of its own after each step

    @classmethod
    def of(cls, name: str, module: Loss, start: int, stop: int) -> _LossBlock:
        stateful = any(buffer.requires_grad for buffer in module.buffers())
        return cls(name, module, start, stop, stateful)


class Population:
    """Trains MLPs of one shape together (see the module docstring).

    ``keys[p]`` is the caller's key of the member now at position ``p``; ``epochs[p]`` is the
    number of epochs it has started.
    """

    def __init__(self, shape: NetworkShape, context: LossContext, weight_decay: float) -> None:
        self.shape, self.context = shape, context
        self.keys: list[Hashable] = []
        self.epochs: list[int] = []
        self.generators: list[torch.Generator] = []
        self.rows: list[Tensor | None] = []
        self.parameters = init_parameters(shape, [], context.device)
        self.optimizer = PopulationAdamW(self.parameters, torch.zeros(0), weight_decay=weight_decay)
        self.blocks: list[_LossBlock] = []

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, members: Sequence[tuple[Hashable, MemberConfig]]) -> None:
        """Let new members join, each with its own seed, learning rate and loss parameters."""
        if not members:
            return
        configs = [config for _, config in members]
        self._check_rows(configs)
        device = self.context.device
        new_parameters = init_parameters(self.shape, [c.seed for c in configs], device)
        # Each newcomer loss's module, and the block it joins: its fusion key, or its own name.
        by_loss: dict[str, list[int]] = {}
        for i, config in enumerate(configs):
            by_loss.setdefault(config.loss, []).append(i)
        built = {
            name: self._build_loss(name, [configs[i] for i in idx]) for name, idx in by_loss.items()
        }
        block_of = {name: module.fusion_key or name for name, module in built.items()}
        # Order: every existing block followed by its newcomers, then blocks new to the
        # population. Positions >= len(self) are new; within a block, newcomers come loss by loss
        # in the order their modules extend it.
        order: list[int] = []
        modules: list[tuple[str, Loss, int]] = []
        for block in self.blocks:
            joining = [name for name in by_loss if block_of[name] == block.name]
            for name in joining:
                block.module.extend(built[name])
            newcomers = [len(self) + i for name in joining for i in by_loss[name]]
            order += list(range(block.start, block.stop)) + newcomers
            modules.append((block.name, block.module, block.stop - block.start + len(newcomers)))
        present = {block.name for block in self.blocks}
        for key in dict.fromkeys(block_of[n] for n in by_loss if block_of[n] not in present):
            joining = [name for name in by_loss if block_of[name] == key]
            module = built[joining[0]]
            for name in joining[1:]:
                module.extend(built[name])
            newcomers = [len(self) + i for name in joining for i in by_loss[name]]
            order += newcomers
            modules.append((key, module, len(newcomers)))

        index = torch.tensor(order, dtype=torch.long, device=device)
        self.parameters = [
            torch.cat([old.detach(), new.detach()]).index_select(0, index).requires_grad_()
            for old, new in zip(self.parameters, new_parameters, strict=True)
        ]
        rates = torch.tensor([c.learning_rate for c in configs], dtype=torch.float32)
        self.optimizer.rearrange(self.parameters, index, rates)
        # Data order is drawn on the CPU, one generator per member, so it is the same on any
        # device and the same whether the member trains alone or in a population.
        generators = self.generators + [torch.Generator().manual_seed(c.seed + 1) for c in configs]
        keys = self.keys + [key for key, _ in members]
        epochs = self.epochs + [0] * len(configs)
        rows = self.rows + [
            None if c.rows is None else torch.tensor(c.rows, dtype=torch.long) for c in configs
        ]
        self.generators = [generators[i] for i in order]
        self.rows = [rows[i] for i in order]
        self.keys = [keys[i] for i in order]
        self.epochs = [epochs[i] for i in order]
        self.blocks, start = [], 0
        for name, module, size in modules:
            self.blocks.append(_LossBlock.of(name, module, start, start + size))
            start += size

    def _check_rows(self, configs: Sequence[MemberConfig]) -> None:
        """Members take batches in lockstep: all train on every row, or on as many rows each."""
        sizes = {None if r is None else len(r) for r in self.rows}
        sizes |= {None if c.rows is None else len(c.rows) for c in configs}
        if len(sizes) > 1:
            raise ValueError(
                "members of one population must all train on every row or on as many rows each"
            )

    def epoch_rows(self, n_train: int) -> int:
        """Rows each member sees per epoch: its own rows' count, or every training row."""
        return next((len(r) for r in self.rows if r is not None), n_train)

    def _build_loss(self, name: str, configs: Sequence[MemberConfig]) -> Loss:
        spec = get_loss(name)
        device = self.context.device
        params = {
            p.name: torch.tensor([float(c.loss_params[p.name]) for c in configs], device=device)
            for p in spec.params_for(self.context.task)
        }
        context = replace(self.context, members=len(configs))
        return build_loss(spec, params, context).to(device)

    def outputs(self, inputs: Tensor) -> Tensor:
        """Every member's outputs for per-member batches ``(M, B, d)`` or shared rows ``(N, d)``."""
        return forward(self.parameters, inputs)

    def batch_orders(self, n_rows: int, device: torch.device) -> Tensor:
        """A fresh permutation of each member's training rows, shape ``(M, n_rows)``."""
        orders = [
            torch.randperm(n_rows, generator=g)
            if rows is None
            else rows[torch.randperm(len(rows), generator=g)]
            for g, rows in zip(self.generators, self.rows, strict=True)
        ]
        return torch.stack(orders).to(device, non_blocking=True)

    def losses(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """Each member's loss on its batch, shape ``(M,)``."""
        parts = [
            block.module(outputs[block.start : block.stop], targets[block.start : block.stop])
            for block in self.blocks
        ]
        return torch.cat(parts)

    def train_step(self, inputs: Tensor, targets: Tensor) -> None:
        """One optimiser step for every member on its own batch."""
        self.losses(self.outputs(inputs), targets).sum().backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        for block in self.blocks:
            if block.stateful:
                block.module.after_step(self.optimizer.rates_in_use[block.start : block.stop])

    def start_epoch(self) -> None:
        """Every member starts its next epoch (each counts its own)."""
        self.epochs = [epoch + 1 for epoch in self.epochs]
        epochs = torch.tensor(self.epochs, device=self.context.device)
        for block in self.blocks:
            block.module.start_epoch(epochs[block.start : block.stop])
        self.optimizer.set_multipliers(
            torch.cat(
                [
                    block.module.learning_rate_multipliers(block.stop - block.start).cpu()
                    for block in self.blocks
                ]
            )
        )

    def advance_stage(self, position: int) -> bool:
        """Ask the member at ``position``'s loss to start its next training stage because the
        member stopped improving; True if it did (the member keeps training)."""
        for block in self.blocks:
            if block.start <= position < block.stop:
                local = torch.tensor([position - block.start], device=self.context.device)
                return bool(block.module.advance_stage(local)[0])
        raise IndexError(position)

    def scale_learning_rate(self, position: int, factor: float) -> None:
        """Multiply the member at ``position``'s own learning rate by ``factor`` from the next
        step on (a plateau drop; a loss's own multipliers still apply on top)."""
        self.optimizer.learning_rates[position] *= factor

    def member_state(self, position: int) -> list[Tensor]:
        """A detached copy of one member's parameters."""
        return [p[position].detach().clone() for p in self.parameters]

    def keep(self, positions: Sequence[int]) -> None:
        """Keep only the members at ``positions`` (in their current order); drop the rest."""
        device = self.context.device
        kept = sorted(positions)
        index = torch.tensor(kept, dtype=torch.long, device=device)
        self.parameters = [
            p.detach().index_select(0, index).requires_grad_() for p in self.parameters
        ]
        self.optimizer.rearrange(self.parameters, index, torch.zeros(0))
        self.generators = [self.generators[i] for i in kept]
        self.rows = [self.rows[i] for i in kept]
        self.keys = [self.keys[i] for i in kept]
        self.epochs = [self.epochs[i] for i in kept]
        blocks: list[_LossBlock] = []
        start = 0
        for block in self.blocks:
            local = [i - block.start for i in kept if block.start <= i < block.stop]
            if not local:
                continue
            block.module.select(torch.tensor(local, dtype=torch.long, device=device))
            blocks.append(_LossBlock.of(block.name, block.module, start, start + len(local)))
            start += len(local)
        self.blocks = blocks
