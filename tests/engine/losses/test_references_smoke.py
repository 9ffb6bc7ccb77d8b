"""The reference packages import in this environment (the comparisons depend on it)."""

from __future__ import annotations

import torch

from tests.engine.losses.references import (
    kornia_losses,
    libauc_losses,
    smp_losses,
    torchmetrics_functional,
    torchvision_ops,
)


def test_the_reference_implementations_are_importable() -> None:
    logits, targets = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([1.0, 0.0, 1.0])
    focal = torchvision_ops().sigmoid_focal_loss(logits, targets, reduction="mean")
    assert torch.isfinite(focal)
    assert hasattr(kornia_losses(), "TverskyLoss")
    assert hasattr(smp_losses(), "LovaszLoss")
    assert hasattr(libauc_losses(), "AUCMLoss")
    assert hasattr(torchmetrics_functional(), "f1_score")
