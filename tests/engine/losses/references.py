"""Importing the maintained reference implementations the loss tests compare against.

torchvision's C++ operators are built against PyPI's CUDA torch; beside the CPU build of the
same torch version they fail to register, and ``import torchvision`` then stops while declaring
fake kernels for them (``operator torchvision::nms does not exist``). The losses we compare with
(``torchvision.ops.sigmoid_focal_loss``) are plain PyTorch and need none of those operators, so
when (and only when) that happens, the fake-kernel module is skipped and torchvision imported
again. segmentation-models-pytorch, libauc and torchmetrics import torchvision, so they go
through here too.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def _import_torchvision() -> None:
    try:
        importlib.import_module("torchvision")
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        sys.modules["torchvision._meta_registrations"] = types.ModuleType(
            "torchvision._meta_registrations"
        )
        importlib.import_module("torchvision")


def torchvision_ops() -> Any:
    """``torchvision.ops``."""
    _import_torchvision()
    return importlib.import_module("torchvision.ops")


def smp_losses() -> Any:
    """``segmentation_models_pytorch.losses``."""
    _import_torchvision()
    return importlib.import_module("segmentation_models_pytorch.losses")


def libauc_losses() -> Any:
    """``libauc.losses``."""
    _import_torchvision()
    return importlib.import_module("libauc.losses")


def timm_losses() -> Any:
    """``timm.loss`` (timm imports torchvision)."""
    _import_torchvision()
    return importlib.import_module("timm.loss")


def kornia_losses() -> Any:
    """``kornia.losses``."""
    _import_torchvision()
    return importlib.import_module("kornia.losses")


def torchmetrics_functional() -> Any:
    """``torchmetrics.functional`` (its image metrics import torchvision)."""
    _import_torchvision()
    return importlib.import_module("torchmetrics.functional")
