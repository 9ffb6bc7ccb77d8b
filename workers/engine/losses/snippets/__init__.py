"""Self-contained code that reproduces each loss for one model, in PyTorch and in Keras 3.

Every loss has a file ``<name>.py`` here that imports nothing but ``torch`` (and ``math``) and
defines ``make_loss(...)``: given the task, the loss's parameters and whatever it needs to know
about the data (``class_counts``, ``n_train``, ``max_epochs``, ``steps_per_epoch``,
``target_mean``, ``target_std``, ``target_scale``, ``metric_<param>``), it returns a callable
``loss_fn(logits, targets)`` giving a scalar to minimise. Its twin ``keras/<name>.py`` defines
the same ``make_loss(...)`` with ``keras.ops`` only and returns a ``keras.losses.Loss``.

Stateful losses (warm-ups, deferred re-weighting, dual variables) have ``start_epoch(epoch)``
(epochs from 1) and/or ``after_step(lr)``, to be called by the training loop; their Keras twins
also have ``callbacks()``, the ``keras.callbacks.Callback`` list that calls them from ``fit``.
Without those calls a stateful loss is a different loss, so it raises instead of going on:
at the first training call if no hook ever ran, at a schedule boundary the loop ran past (more
than ``steps_per_epoch`` training calls in the epoch before the schedule changes), and at a
second training step without ``after_step``.

Shapes, for one model: binary ``(B,)`` logits and 0/1 float targets; multiclass ``(B, C)``
logits and integer class targets, or ``(B, C)`` distributions for soft targets (the losses
that accept them); multilabel ``(B, L)`` logits and 0/1 float targets;
regression ``(B,)`` outputs and targets standardised with the training mean and standard
deviation. (Keras twins also take binary and regression tensors of shape ``(B, 1)``.)

:func:`render_snippet` fills in the values of one setup and adds what the setup carries besides
the loss (:mod:`.deployment`); the tests execute every snippet and compare it with the library's
loss.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

from workers.engine.losses.base import LossContext
from workers.engine.losses.catalogue.mixture import MIXTURE_PREFIX
from workers.engine.losses.snippets.deployment import (
    Deployment,
    Framework,
    constants,
    predict_helper,
    steps_per_epoch,
)
from workers.engine.spec import Task

__all__ = [
    "Deployment",
    "Framework",
    "has_snippet",
    "render_snippet",
    "snippet_source",
]

SNIPPETS = Path(__file__).resolve().parent
_FOLDERS: dict[Framework, Path] = {"pytorch": SNIPPETS, "keras": SNIPPETS / "keras"}

_SHAPES = {
    Task.BINARY: "logits (batch,) and 0/1 float targets (batch,)",
    Task.MULTICLASS: "logits (batch, classes) and integer class targets (batch,)",
    Task.MULTILABEL: "logits (batch, labels) and 0/1 float targets (batch, labels)",
    Task.REGRESSION: "outputs (batch,) and targets (batch,) standardised with the training "
    "mean and standard deviation (below)",
}

_SOFT_SHAPES = (
    "logits (batch, classes) and soft targets (batch, classes): a label distribution per row"
)

_KERAS_SHAPES = {
    Task.BINARY: "y_pred: logits (batch,) or (batch, 1); y_true: 0/1 targets of the same shape",
    Task.MULTICLASS: "y_pred: logits (batch, classes); y_true: class codes (batch,) or (batch, 1)",
    Task.MULTILABEL: "y_pred: logits (batch, labels); y_true: 0/1 targets (batch, labels)",
    Task.REGRESSION: "y_pred: outputs (batch,) or (batch, 1); y_true: targets standardised with "
    "the training mean and standard deviation (below)",
}

_KERAS_SOFT_SHAPES = (
    "y_pred: logits (batch, classes); y_true: soft targets (batch, classes), a label "
    "distribution per row"
)

# Arguments of make_loss that the snippet takes from its constants, so that changing the
# training (a longer run, another batch size) changes the schedule with it.
_FROM_CONSTANTS = {"max_epochs": "MAX_EPOCHS", "steps_per_epoch": "STEPS_PER_EPOCH"}


def snippet_source(name: str, framework: Framework = "pytorch") -> str:
    """The snippet file of loss ``name`` (mixtures are assembled from their parts)."""
    if name.startswith(MIXTURE_PREFIX):
        surrogate = name.removeprefix(MIXTURE_PREFIX)
        return "\n\n".join(
            [
                _renamed(snippet_source(surrogate, framework), "make_surrogate_loss"),
                _renamed(_read("cross_entropy", framework), "make_cross_entropy_loss"),
                _renamed(_read("mse", framework), "make_mse_loss"),
                _read("mixture", framework),
            ]
        )
    return _read(name, framework)


def has_snippet(name: str, framework: Framework) -> bool:
    """Whether loss ``name`` has code in ``framework`` (mixtures: their surrogate's)."""
    names = (
        [name.removeprefix(MIXTURE_PREFIX), "mixture"]
        if name.startswith(MIXTURE_PREFIX)
        else [name]
    )
    return all((_FOLDERS[framework] / f"{n}.py").is_file() for n in names)


def render_snippet(
    name: str,
    task: Task,
    params: Mapping[str, float],
    context: LossContext,
    reference: str = "",
    link: str = "identity",
    *,
    deployment: Deployment | None = None,
    framework: Framework = "pytorch",
) -> str:
    """A runnable snippet for one setup: the loss's code, the setup's constants, the call with
    its values and a ``predict`` helper.

    ``link`` is the loss's output link; for regression the header says how to standardise
    targets and how to turn outputs back into predictions. ``deployment`` is how the setup
    trained and decides (the batch size sets ``STEPS_PER_EPOCH``).
    """
    deployment = deployment or Deployment()
    source = snippet_source(name, framework)
    values: dict[str, object] = {
        "task": task.value,
        **context.snippet_values(),
        "steps_per_epoch": steps_per_epoch(context.n_train, deployment.batch_size),
        **params,
    }
    values.update({key: _Code(constant) for key, constant in _FROM_CONSTANTS.items()})
    if name.startswith(MIXTURE_PREFIX):
        surrogate = name.removeprefix(MIXTURE_PREFIX)
        inner = _call_arguments(snippet_source(surrogate, framework), values, surrogate)
        proxy = "make_mse_loss" if task is Task.REGRESSION else "make_cross_entropy_loss"
        values["surrogate"] = _Code(f"make_surrogate_loss({inner})")
        values["proxy"] = _Code(f"{proxy}(task={task.value!r})")
    call = _call_arguments(source, values, name)
    setup = constants(
        deployment,
        max_epochs=context.max_epochs,
        n_train=context.n_train,
        task=task,
        target_mean=context.target_mean,
        target_std=context.target_std,
        target_scale=context.target_scale,
    )
    parts = [
        "\n".join(_header(name, task, context, reference, link, source, framework)),
        source.strip(),
        "\n".join(setup),
        "\n".join(_call(call, source, framework)),
        predict_helper(deployment, task, link, framework).strip(),
    ]
    return "\n\n\n".join(parts) + "\n"


def _header(
    name: str,
    task: Task,
    context: LossContext,
    reference: str,
    link: str,
    source: str,
    framework: Framework,
) -> list[str]:
    shapes = _SOFT_SHAPES if context.soft_targets else _SHAPES[task]
    header = [
        f"# Loss found by loss-search: {name} for a {task.value} task.",
        *([f"# Reference: {reference}"] if reference else []),
    ]
    if framework == "pytorch":
        header += [
            f"# loss_fn takes {shapes}",
            "# and returns a scalar to minimise. Needs only PyTorch.",
        ]
    else:
        header += [
            "# loss_fn is a keras.losses.Loss for model.compile(loss=loss_fn); the model outputs",
            "# logits (no final sigmoid or softmax). Written with keras.ops only: Keras 3 on the",
            "# TensorFlow, JAX or PyTorch backend.",
            f"# {_KERAS_SOFT_SHAPES if context.soft_targets else _KERAS_SHAPES[task]}.",
        ]
    header += _hooks(source, framework)
    if task is Task.REGRESSION:
        # Targets arrive standardised. Outputs are in the same units (undo it to predict), or,
        # for a log-link loss, the log of the prediction in units of target_scale.
        predictions = (
            f"exp(outputs) * {context.target_scale!r} (log link)"
            if link == "log"
            else f"outputs * {context.target_std!r} + {context.target_mean!r}"
        )
        header += [
            f"# Targets: (y - {context.target_mean!r}) / {context.target_std!r}; "
            f"predictions: {predictions}."
        ]
    return header


def _hooks_needed(source: str) -> tuple[bool, bool]:
    """Whether the loss in ``source`` needs ``start_epoch`` and ``after_step`` calls."""
    return "def start_epoch(" in source, "def after_step(" in source


def _hooks(source: str, framework: Framework) -> list[str]:
    """The header's statement of the training-loop calls the loss needs."""
    epochs, steps = _hooks_needed(source)
    if not (epochs or steps):
        return ["# Hooks: none (the loss keeps no state between calls)."]
    calls = []
    if epochs:
        calls.append("#   loss_fn.start_epoch(epoch) at the start of every epoch (epochs from 1)")
    if steps:
        calls.append(
            "#   loss_fn.after_step(lr) after every optimiser step (lr: its learning rate)"
        )
    if framework == "pytorch":
        return [
            "# REQUIRED hooks; without them this is a different loss, so loss_fn raises:",
            *calls,
        ]
    return [
        "# REQUIRED: model.fit(..., callbacks=loss_fn.callbacks()); without them this is a",
        "# different loss, so loss_fn raises. The callbacks make these calls (a custom",
        "# training loop makes them itself):",
        *calls,
        "# The loss keeps state between steps: on the JAX backend compile with run_eagerly=True.",
    ]


def _call(call: str, source: str, framework: Framework) -> list[str]:
    lines = [f"loss_fn = make_loss({call})"]
    if framework == "keras" and any(_hooks_needed(source)):
        lines.append(
            "callbacks = loss_fn.callbacks()  # REQUIRED: model.fit(..., callbacks=callbacks)"
        )
    return lines


class _Code(str):
    """A value written into the call as code rather than as a literal."""

    def __repr__(self) -> str:
        return str(self)


def _call_arguments(source: str, values: Mapping[str, object], name: str) -> str:
    """``key=value`` for every argument of make_loss we have a value for; all required ones."""
    wanted, required = _make_loss_arguments(source)
    missing = sorted(set(required) - set(values))
    if missing:
        raise ValueError(f"snippet of {name!r} needs values for {missing}")
    return ", ".join(f"{key}={values[key]!r}" for key in wanted if key in values)


def _read(name: str, framework: Framework = "pytorch") -> str:
    path = _FOLDERS[framework] / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no {framework} snippet for loss {name!r} ({path.name})")
    return path.read_text()


def _renamed(source: str, new_name: str) -> str:
    return source.replace("def make_loss(", f"def {new_name}(")


def _make_loss_arguments(source: str) -> tuple[list[str], list[str]]:
    """The parameter names of the (last) ``make_loss`` in ``source``, and the required ones."""
    functions = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "make_loss"
    ]
    if not functions:
        raise ValueError("a snippet must define make_loss(...)")
    arguments = functions[-1].args
    positional = [*arguments.posonlyargs, *arguments.args]
    names = [a.arg for a in (*positional, *arguments.kwonlyargs)]
    n_required = len(positional) - len(arguments.defaults)
    required = [a.arg for a in positional[:n_required]]
    required += [
        a.arg
        for a, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
        if default is None
    ]
    return names, required
