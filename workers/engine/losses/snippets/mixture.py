"""Mixture of a proxy and a surrogate loss, after a proxy-only warm-up."""

from collections.abc import Callable

import torch

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class MixedLoss:
    """(1 - s) * proxy + s * surrogate, with s = 0 for the first warm-up epochs, 1 - lam after.

    Call start_epoch(epoch) (epochs from 1) before each epoch. A training call (one whose
    logits require grad) raises if start_epoch never ran, or if more than steps_per_epoch of
    them come in the last warm-up epoch: the loop went past the switch without telling the loss.
    """

    def __init__(
        self,
        proxy: LossFn,
        surrogate: LossFn,
        lam: float,
        warmup: float,
        max_epochs: int,
        steps_per_epoch: int,
    ) -> None:
        self.proxy, self.surrogate = proxy, surrogate
        self.lam = lam
        self.warmup_epochs = round(warmup * max_epochs)
        self.steps_per_epoch = steps_per_epoch
        self.surrogate_weight = 0.0
        self.epoch, self.steps = 0, 0  # the current epoch (0: none yet) and its training calls

    def start_epoch(self, epoch: int) -> None:
        for part in (self.proxy, self.surrogate):
            if hasattr(part, "start_epoch"):
                part.start_epoch(epoch)
        self.surrogate_weight = (1.0 - self.lam) if epoch > self.warmup_epochs else 0.0
        self.epoch, self.steps = epoch, 0

    def after_step(self, lr: float) -> None:
        for part in (self.proxy, self.surrogate):
            if hasattr(part, "after_step"):
                part.after_step(lr)

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and logits.requires_grad:
            self._check_schedule()
        weight = self.surrogate_weight
        return (1.0 - weight) * self.proxy(logits, targets) + weight * self.surrogate(
            logits, targets
        )

    def _check_schedule(self) -> None:
        if self.epoch == 0:
            raise RuntimeError(
                "MixedLoss: call loss_fn.start_epoch(epoch) before every epoch (epochs from 1); "
                f"the surrogate takes over after epoch {self.warmup_epochs}"
            )
        self.steps += 1
        if self.epoch == self.warmup_epochs and self.steps > self.steps_per_epoch:
            raise RuntimeError(
                f"MixedLoss: more than steps_per_epoch={self.steps_per_epoch} training calls "
                f"since start_epoch({self.epoch}), the warm-up's last epoch: call "
                "loss_fn.start_epoch(epoch) before every epoch (or set STEPS_PER_EPOCH to your "
                "loader's length)"
            )


def make_loss(
    proxy: LossFn,
    surrogate: LossFn,
    lam: float,
    warmup: float,
    max_epochs: int,
    steps_per_epoch: int,
) -> MixedLoss:
    return MixedLoss(proxy, surrogate, lam, warmup, max_epochs, steps_per_epoch)
