"""Keras 3 on its PyTorch backend, for the tests of the Keras exports (no TensorFlow needed).

Import keras through this module: the backend is chosen once, when keras is first imported.
"""

from __future__ import annotations

import ast
import os
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras

assert keras.backend.backend() == "torch", "keras was imported with another backend first"

__all__ = ["ALLOWED_IMPORTS", "keras", "run_keras_snippet"]

ALLOWED_IMPORTS = {"keras", "math", "collections", "typing", "__future__"}


def run_keras_snippet(source: str) -> Any:
    """Execute a rendered Keras snippet in a fresh namespace and return its ``loss_fn``,
    refusing any import but keras and the standard library's basics."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots = {(node.module or "").split(".")[0]}
        else:
            continue
        assert roots <= ALLOWED_IMPORTS, f"snippet imports {roots - ALLOWED_IMPORTS}"
    namespace: dict[str, Any] = {"__name__": "keras_loss_snippet"}
    exec(compile(tree, "<keras snippet>", "exec"), namespace)
    return namespace["loss_fn"]
