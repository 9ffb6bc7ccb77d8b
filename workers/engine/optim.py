"""AdamW over stacked population parameters, with one learning rate and step count per member.

``torch.optim.AdamW`` takes one learning rate per parameter tensor; here a tensor holds every
member, each member has its own learning rate, and members join the population at different
times, so each has its own step count for the bias corrections. The update below is AdamW as
torch defines it (Loshchilov & Hutter 2019, decoupled weight decay, bias-corrected moments),
applied with ``(M, 1, 1)`` per-member factors; a test checks it against ``torch.optim.AdamW`` for
one member.
"""

from __future__ import annotations

import torch
from torch import Tensor


class PopulationAdamW:
    """AdamW whose learning rate and step count are tensors over the member axis."""

    def __init__(
        self,
        parameters: list[Tensor],
        learning_rates: Tensor,
        weight_decay: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        device = parameters[0].device
        self.parameters = parameters
        self.learning_rates = learning_rates.to(device, torch.float32)
        self.weight_decay = weight_decay
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.multipliers = torch.ones_like(self.learning_rates)
        self.steps = torch.zeros_like(self.learning_rates, dtype=torch.float64)
        self.exp_avg = [torch.zeros_like(p) for p in parameters]
        self.exp_avg_sq = [torch.zeros_like(p) for p in parameters]

    @property
    def rates_in_use(self) -> Tensor:
        """The learning rates the next step applies: each member's own times its multiplier
        (a loss's schedule, see :meth:`set_multipliers`)."""
        return self.learning_rates * self.multipliers

    def set_multipliers(self, multipliers: Tensor) -> None:
        """Scale each member's learning rate by ``multipliers`` (M,) from the next step on."""
        self.multipliers = multipliers.to(self.learning_rates.device, torch.float32)

    @torch.no_grad()
    def step(self) -> None:
        """Apply one update from the gradients in ``.grad``, then clear them.

        Uses torch's multi-tensor (``_foreach``) kernels: a handful of calls for all the
        parameter tensors instead of several per tensor, which matters for small models.
        """
        live = [i for i, p in enumerate(self.parameters) if p.grad is not None]
        if not live:
            return
        params = [self.parameters[i] for i in live]
        grads = [p.grad for p in params]
        avgs = [self.exp_avg[i] for i in live]
        avg_sqs = [self.exp_avg_sq[i] for i in live]
        self.steps += 1
        bias1 = (1.0 - self.beta1**self.steps).float()
        bias2_sqrt = (1.0 - self.beta2**self.steps).sqrt().float()
        shapes = [(-1, *([1] * (p.dim() - 1))) for p in params]
        rates = self.rates_in_use
        decay = 1.0 - rates * self.weight_decay
        step_size = -rates / bias1
        torch._foreach_mul_(params, [decay.view(s) for s in shapes])
        torch._foreach_lerp_(avgs, grads, 1.0 - self.beta1)  # type: ignore[arg-type]
        torch._foreach_mul_(avg_sqs, self.beta2)
        torch._foreach_addcmul_(avg_sqs, grads, grads, value=1.0 - self.beta2)  # type: ignore[arg-type]
        denominators = torch._foreach_sqrt(avg_sqs)
        torch._foreach_div_(denominators, [bias2_sqrt.view(s) for s in shapes])
        torch._foreach_add_(denominators, self.eps)
        updates = torch._foreach_div(avgs, denominators)
        torch._foreach_mul_(updates, [step_size.view(s) for s in shapes])
        torch._foreach_add_(params, updates)
        for param in params:
            param.grad = None

    def rearrange(self, parameters: list[Tensor], index: Tensor, new_rates: Tensor) -> None:
        """Follow the population after members joined (``new_rates``) and/or left.

        The state gains zero rows for the newcomers, appended after the current members, and
        then keeps the rows at ``index`` in that order.
        """
        device = self.learning_rates.device
        new_rates = new_rates.to(device, torch.float32)
        extra = len(new_rates)

        def grow(state: Tensor) -> Tensor:
            zeros = state.new_zeros((extra, *state.shape[1:]))
            return torch.cat([state, zeros]).index_select(0, index)

        self.parameters = parameters
        self.learning_rates = torch.cat([self.learning_rates, new_rates]).index_select(0, index)
        self.multipliers = torch.cat([self.multipliers, torch.ones_like(new_rates)]).index_select(
            0, index
        )
        self.steps = grow(self.steps)
        self.exp_avg = [grow(state) for state in self.exp_avg]
        self.exp_avg_sq = [grow(state) for state in self.exp_avg_sq]
