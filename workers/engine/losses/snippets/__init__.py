"""Self-contained PyTorch snippets that reproduce each loss for one model.

Every loss has a file ``<name>.py`` here that imports nothing but ``torch`` (and ``math``) and
defines ``make_loss(...)``: given the task, the loss's parameters and whatever it needs to know
about the data (``class_counts``, ``n_train``, ``max_epochs``, ``target_mean``, ``target_std``,
``target_scale``, ``metric_<param>``), it returns a callable ``loss_fn(logits, targets)`` giving a
scalar to minimise. Stateful losses return an object that also has ``start_epoch(epoch)``
(epochs from 1) and/or ``after_step(lr)``, to be called by the training loop.

Shapes, for one model: binary ``(B,)`` logits and 0/1 float targets; multiclass ``(B, C)``
logits and integer class targets, or ``(B, C)`` distributions for soft targets (the losses
that accept them); multilabel ``(B, L)`` logits and 0/1 float targets;
regression ``(B,)`` outputs and targets standardised with the training mean and standard
deviation.

:func:`render_snippet` fills in the values of one setup; the tests execute every snippet and
compare it with the library's loss.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

from workers.engine.losses.base import LossContext
from workers.engine.losses.catalogue.mixture import MIXTURE_PREFIX
from workers.engine.spec import Task

SNIPPETS = Path(__file__).resolve().parent

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


def snippet_source(name: str) -> str:
    """The snippet file of loss ``name`` (mixtures are assembled from their parts)."""
    if name.startswith(MIXTURE_PREFIX):
        surrogate = name.removeprefix(MIXTURE_PREFIX)
        return "\n\n".join(
            [
                _renamed(snippet_source(surrogate), "make_surrogate_loss"),
                _renamed(_read("cross_entropy"), "make_cross_entropy_loss"),
                _renamed(_read("mse"), "make_mse_loss"),
                _read("mixture"),
            ]
        )
    return _read(name)


def render_snippet(
    name: str,
    task: Task,
    params: Mapping[str, float],
    context: LossContext,
    reference: str = "",
    link: str = "identity",
) -> str:
    """A runnable snippet for one setup: the loss's code and the call with its values.

    ``link`` is the loss's output link; for regression the header says how to standardise
    targets and how to turn outputs back into predictions.
    """
    source = snippet_source(name)
    values: dict[str, object] = {"task": task.value, **context.snippet_values(), **params}
    if name.startswith(MIXTURE_PREFIX):
        surrogate = name.removeprefix(MIXTURE_PREFIX)
        inner = _call_arguments(snippet_source(surrogate), values, surrogate)
        proxy = "make_mse_loss" if task is Task.REGRESSION else "make_cross_entropy_loss"
        values["surrogate"] = _Code(f"make_surrogate_loss({inner})")
        values["proxy"] = _Code(f"{proxy}(task={task.value!r})")
    call = _call_arguments(source, values, name)
    header = [
        f"# Loss found by loss-search: {name} for a {task.value} task.",
        *([f"# Reference: {reference}"] if reference else []),
        f"# loss_fn takes {_SOFT_SHAPES if context.soft_targets else _SHAPES[task]}",
        "# and returns a scalar to minimise. Needs only PyTorch.",
    ]
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
    return "\n".join(header) + "\n\n" + source.strip() + f"\n\n\nloss_fn = make_loss({call})\n"


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


def _read(name: str) -> str:
    path = SNIPPETS / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no snippet for loss {name!r} ({path.name})")
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
