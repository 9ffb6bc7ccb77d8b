"""LDAM loss with deferred re-weighting (DRW).

The true class's output is lowered by the margin max_margin * (n_min / n_y) ** 0.25 and the
result is multiplied by scale before cross-entropy (binary and multilabel: BCE of
scale * (z - (2y - 1) * margin_y), per label for multilabel). Predictions are the outputs z.
Stage one: the loss is the plain mean. Stage two: each decision weighs its class's
class-balanced weight (beta = 0.9999), the loss is the weighted mean sum(w * l) / sum(w), and
the learning rate should be multiplied by lr_factor. Stage two starts after epoch
round(defer * max_epochs), or earlier: call start_reweighting() when validation stops
improving (where early stopping would end training), then keep training with fresh patience.
Call start_epoch(epoch) (epochs from 1) before each epoch; from the epoch on which it returns
True, multiply your optimiser's learning rate by lr_factor. A training call (logits that require
grad) raises if start_epoch never ran, or if more than steps_per_epoch of them come in the last
epoch before re-weighting: the loop went past the switch without telling the loss.
"""

import torch
import torch.nn.functional as F

DRW_ONE_MINUS_BETA = 1e-4


def _balanced_weights(counts: torch.Tensor) -> torch.Tensor:
    counts = counts.double().clamp_min(1.0)
    q = torch.tensor(DRW_ONE_MINUS_BETA, dtype=torch.float64)
    raw = q / -torch.expm1(counts * torch.log1p(-q))  # (1 - beta) / (1 - beta ** n)
    weights = raw / ((raw * counts).sum(-1, keepdim=True) / counts.sum(-1, keepdim=True))
    return weights.float()


class LDAMDRWLoss:
    def __init__(
        self,
        task: str,
        max_margin: float,
        scale: float,
        defer: float,
        lr_factor: float,
        class_counts: list[float],
        n_train: int,
        max_epochs: int,
        steps_per_epoch: int,
    ) -> None:
        self.task = task
        self.scale = scale
        self.lr_factor = lr_factor
        counts = torch.tensor(class_counts, dtype=torch.float32)
        if task == "multilabel":
            counts = torch.stack([n_train - counts, counts], dim=-1)  # (labels, 2)
        raw = counts.clamp_min(1.0).pow(-0.25)
        self.margins = max_margin * raw / raw.amax(-1, keepdim=True)
        self.balanced = _balanced_weights(counts)
        self.defer_epochs = round(defer * max_epochs)
        self.switched = False
        self.reweighting = False
        self.steps_per_epoch = steps_per_epoch
        self.epoch, self.steps = 0, 0  # the current epoch (0: none yet) and its training calls

    def start_reweighting(self) -> None:
        self.switched = True

    def start_epoch(self, epoch: int) -> bool:
        """Returns True on the epoch re-weighting starts (time to drop the learning rate)."""
        starting = not self.reweighting and (self.switched or epoch > self.defer_epochs)
        self.reweighting = self.reweighting or starting
        self.epoch, self.steps = epoch, 0
        return starting

    def _check_schedule(self) -> None:
        if self.epoch == 0:
            raise RuntimeError(
                "LDAMDRWLoss: call loss_fn.start_epoch(epoch) before every epoch (epochs from "
                f"1); re-weighting starts after epoch {self.defer_epochs}"
            )
        self.steps += 1
        if (
            not self.reweighting
            and self.epoch == self.defer_epochs
            and self.steps > self.steps_per_epoch
        ):
            raise RuntimeError(
                f"LDAMDRWLoss: more than steps_per_epoch={self.steps_per_epoch} training calls "
                f"since start_epoch({self.epoch}), the last epoch before re-weighting: call "
                "loss_fn.start_epoch(epoch) before every epoch (or set STEPS_PER_EPOCH to your "
                "loader's length)"
            )

    def _lookup(self, table: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        table = table.to(targets.device)
        if self.task == "multilabel":
            return torch.where(targets > 0.5, table[:, 1], table[:, 0])
        return table[targets.long()]

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and logits.requires_grad:
            self._check_schedule()
        if self.task == "multiclass":
            onehot = F.one_hot(targets.long(), logits.shape[-1]).to(logits.dtype)
            shifted = logits - onehot * self.margins.to(logits.device)
            per_example = F.cross_entropy(self.scale * shifted, targets.long(), reduction="none")
        else:
            shifted = logits - (2.0 * targets - 1.0) * self._lookup(self.margins, targets)
            per_example = F.binary_cross_entropy_with_logits(
                self.scale * shifted, targets, reduction="none"
            )
        if not self.reweighting:
            return per_example.mean()
        weights = self._lookup(self.balanced, targets)
        return (weights * per_example).sum() / weights.sum()


def make_loss(
    task: str,
    max_margin: float,
    scale: float,
    defer: float,
    lr_factor: float,
    class_counts: list[float],
    n_train: int,
    max_epochs: int,
    steps_per_epoch: int,
) -> LDAMDRWLoss:
    return LDAMDRWLoss(
        task,
        max_margin,
        scale,
        defer,
        lr_factor,
        class_counts,
        n_train,
        max_epochs,
        steps_per_epoch,
    )
