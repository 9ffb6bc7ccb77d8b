"""Mixture of a proxy and a surrogate loss, after a proxy-only warm-up."""

from collections.abc import Callable

import torch

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class MixedLoss:
    """(1 - s) * proxy + s * surrogate, with s = 0 for the first warm-up epochs, 1 - lam after.

    Call start_epoch(epoch) (epochs from 1) before each epoch.
    """

    def __init__(
        self, proxy: LossFn, surrogate: LossFn, lam: float, warmup: float, max_epochs: int
    ) -> None:
        self.proxy, self.surrogate = proxy, surrogate
        self.lam = lam
        self.warmup_epochs = round(warmup * max_epochs)
        self.surrogate_weight = 0.0

    def start_epoch(self, epoch: int) -> None:
        for part in (self.proxy, self.surrogate):
            if hasattr(part, "start_epoch"):
                part.start_epoch(epoch)
        self.surrogate_weight = (1.0 - self.lam) if epoch > self.warmup_epochs else 0.0

    def after_step(self, lr: float) -> None:
        for part in (self.proxy, self.surrogate):
            if hasattr(part, "after_step"):
                part.after_step(lr)

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        weight = self.surrogate_weight
        return (1.0 - weight) * self.proxy(logits, targets) + weight * self.surrogate(
            logits, targets
        )


def make_loss(
    proxy: LossFn, surrogate: LossFn, lam: float, warmup: float, max_epochs: int
) -> MixedLoss:
    return MixedLoss(proxy, surrogate, lam, warmup, max_epochs)
