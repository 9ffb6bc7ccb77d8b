"""What a rendered snippet carries besides the loss: how the setup was trained and how it
decides, as named constants and a ``predict`` helper, in PyTorch or Keras 3 code.

A loss alone is not the setup loss-search measured: the decision threshold (or the per-class
offsets, the temperature, the cost matrix) was tuned on validation, regression targets were
standardised, and the batch size, learning rate and epoch budget were part of the search. The
snippet states them where the code is, so nobody has to copy them from the JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from workers.engine.spec import Task

Framework = Literal["pytorch", "keras"]


@dataclass(frozen=True)
class Deployment:
    """How one setup trained and decides (None: not known, or not used by the job's metric).

    ``threshold`` is on the logit (one per label for multilabel); ``class_offsets`` are added
    to the multiclass logits before the arg-max, or to the negated expected costs when
    ``costs`` (the cost matrix of ``expected_cost``, rows true class) is set.
    """

    batch_size: int | None = None
    learning_rate: float | None = None
    weight_decay: float | None = None
    best_epoch: int | None = None
    patience_epochs: int | None = None
    threshold: float | Sequence[float] | None = None
    class_offsets: Sequence[float] | None = None
    temperature: float | None = None
    costs: Sequence[Sequence[float]] | None = None


def steps_per_epoch(n_train: int, batch_size: int | None) -> int:
    """Training batches per epoch (the last one may be short)."""
    if not batch_size or n_train <= 0:
        return 1
    return max(1, math.ceil(n_train / batch_size))


def constants(
    deployment: Deployment,
    *,
    max_epochs: int,
    n_train: int,
    task: Task,
    target_mean: float,
    target_std: float,
    target_scale: float,
) -> list[str]:
    """The ``NAME = value  # why`` lines every snippet starts its setup with."""
    batch = deployment.batch_size
    lines = ["# The setup as loss-search trained and scored it: keep it, or set your own."]
    lines.append(f"BATCH_SIZE = {batch!r}  # the batch size it was searched with")
    if deployment.learning_rate is not None:
        decay = (
            f", weight decay {deployment.weight_decay!r}"
            if deployment.weight_decay is not None
            else ""
        )
        lines.append(f"LEARNING_RATE = {deployment.learning_rate!r}  # AdamW{decay}")
    best = (
        f" (its runs were best after epoch {deployment.best_epoch})"
        if deployment.best_epoch
        else ""
    )
    lines.append(
        f"MAX_EPOCHS = {max_epochs!r}  # the epoch budget; schedules are fractions of it{best}"
    )
    if deployment.patience_epochs is not None:
        lines.append(
            f"PATIENCE_EPOCHS = {deployment.patience_epochs!r}  # the search stopped a run after "
            "this many epochs without a better validation metric"
        )
    lines.append(
        f"STEPS_PER_EPOCH = {steps_per_epoch(n_train, batch)!r}  "
        f"# training batches per epoch: ceil({n_train} training rows / BATCH_SIZE)"
    )
    if task is Task.REGRESSION:
        lines.append(f"TARGET_MEAN, TARGET_STD = {target_mean!r}, {target_std!r}")
        lines.append(f"TARGET_SCALE = {target_scale!r}  # the unit of log-link outputs")
    lines += _decision_constants(deployment, task)
    return lines


def _decision_constants(deployment: Deployment, task: Task) -> list[str]:
    lines: list[str] = []
    threshold = deployment.threshold
    if task in (Task.BINARY, Task.MULTILABEL) and threshold is not None:
        if isinstance(threshold, int | float):
            probability = _sigmoid(float(threshold))
            lines.append(
                f"THRESHOLD = {float(threshold)!r}  # on the logit; as a probability "
                f"{probability:.4g}: predict positive when logit >= THRESHOLD"
            )
        else:
            lines.append(f"THRESHOLDS = {[float(v) for v in threshold]!r}  # per label, on logits")
            lines.append(
                "# as probabilities: " + ", ".join(f"{_sigmoid(float(v)):.4g}" for v in threshold)
            )
    if task is Task.MULTICLASS and deployment.costs is not None:
        lines.append(f"COSTS = {[[float(c) for c in row] for row in deployment.costs]!r}")
        lines[-1] += "  # COSTS[true][decided]"
    if task is Task.MULTICLASS and deployment.class_offsets is not None:
        offsets = [float(v) for v in deployment.class_offsets]
        lines.append(f"CLASS_OFFSETS = {offsets!r}  # tuned on validation")
    if deployment.temperature is not None:
        lines.append(
            f"TEMPERATURE = {deployment.temperature!r}  # probabilities from logits / TEMPERATURE"
        )
    return lines


def _sigmoid(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    odds = math.exp(logit)
    return odds / (1.0 + odds)


def predict_helper(deployment: Deployment, task: Task, link: str, framework: Framework) -> str:
    """``predict`` (and ``probabilities`` / ``standardise`` where they apply) for the setup."""
    torch = framework == "pytorch"
    ns = "torch" if torch else "ops"
    tensor = "torch.tensor" if torch else "ops.convert_to_tensor"
    to_int = "(%s).long()" if torch else 'ops.cast(%s, "int32")'
    if task is Task.REGRESSION:
        back = (
            f"{ns}.exp(outputs) * TARGET_SCALE"
            if link == "log"
            else "outputs * TARGET_STD + TARGET_MEAN"
        )
        return (
            "def standardise(targets):\n"
            '    """Targets as the loss expects them (standardised with the training split)."""\n'
            "    return (targets - TARGET_MEAN) / TARGET_STD\n\n\n"
            "def predict(outputs):\n"
            '    """Predictions in the target\'s own units."""\n'
            f"    return {back}\n"
        )
    blocks: list[str] = []
    if deployment.temperature is not None:
        squash = (
            f"{ns}.softmax(logits / TEMPERATURE, -1)"
            if task is Task.MULTICLASS
            else f"{ns}.sigmoid(logits / TEMPERATURE)"
        )
        blocks.append(
            "def probabilities(logits):\n"
            '    """Calibrated probabilities (the temperature was fitted on validation)."""\n'
            f"    return {squash}\n"
        )
    blocks.append(_predict(deployment, task, ns, tensor, to_int))
    return "\n\n".join(blocks)


def _predict(deployment: Deployment, task: Task, ns: str, tensor: str, to_int: str) -> str:
    doc = '    """Decisions as loss-search scored them on validation and test."""\n'
    if task is Task.MULTICLASS:
        if deployment.costs is not None:
            scores = f"-({ns}.softmax(logits, -1) @ {tensor}(COSTS))"  # minus expected costs
        else:
            scores = "logits"
        if deployment.class_offsets is not None:
            scores = f"{scores} + {tensor}(CLASS_OFFSETS)"
        return f"def predict(logits):\n{doc}    return {ns}.argmax({scores}, -1)\n"
    threshold = deployment.threshold
    if threshold is None:
        return (
            "def predict(logits):\n"
            '    """Scores: the job\'s metric ranks them, so no threshold was tuned."""\n'
            f"    return {ns}.sigmoid(logits)\n"
        )
    name = "THRESHOLD" if isinstance(threshold, int | float) else f"{tensor}(THRESHOLDS)"
    return f"def predict(logits):\n{doc}    return {to_int % f'logits >= {name}'}\n"
