"""Keras 3 on its PyTorch backend, for the tests of the Keras exports (no TensorFlow needed).

Import keras through this module: the backend is chosen once, when keras is first imported.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras

from tests.engine.losses.harness import execute_snippet

assert keras.backend.backend() == "torch", "keras was imported with another backend first"

__all__ = ["ALLOWED_IMPORTS", "keras", "run_keras_snippet"]

ALLOWED_IMPORTS = {"keras", "math", "collections", "typing", "__future__"}


def run_keras_snippet(source: str) -> Any:
    """Execute a rendered Keras snippet with nothing but keras available; its ``loss_fn``."""
    return execute_snippet(source, ALLOWED_IMPORTS)
