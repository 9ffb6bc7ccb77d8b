"""The engine's own description of a search: what to load, what to optimise, how much to spend.

These are plain domain objects. The HTTP schemas in ``service.schemas`` are converted into them,
so the engine can be driven from a notebook without the service.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Task(StrEnum):
    """What the target column(s) hold and therefore what the model predicts."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    MULTILABEL = "multilabel"
    REGRESSION = "regression"


class Family(StrEnum):
    """The three families of training losses the search draws from."""

    PROXY = "proxy"
    WEIGHTED = "weighted"
    SURROGATE = "surrogate"


@dataclass(frozen=True)
class MetricRef:
    """A metric by name with its parameters (e.g. ``min_precision`` for recall_at_precision)."""

    name: str
    params: dict[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchSpec:
    """Everything a worker needs to run one job's search."""

    dataset: str
    target: tuple[str, ...]
    task: Task
    metric: MetricRef
    n_trials: int
    families: tuple[Family, ...]
    seed: int = 0
    timeout_s: float | None = None
    losses: tuple[str, ...] = ()
    overrides: dict[str, dict[str, float | list[float]]] = field(default_factory=dict)
    population_size: int | None = None  # None: chosen from the model, data and memory
    confirmation_top_k: int = 3
    confirmation_seeds: int = 5
    split_column: str | None = None  # a column of train / validation / test labels
    test_dataset: str | None = None  # a reference to a separate file of test rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, stored on the job row."""
        data = asdict(self)
        data["task"] = self.task.value
        data["target"] = list(self.target)
        data["families"] = [family.value for family in self.families]
        data["losses"] = list(self.losses)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpec:
        """Inverse of :meth:`to_dict`."""
        metric = data["metric"]
        return cls(
            dataset=data["dataset"],
            target=tuple(data["target"]),
            task=Task(data["task"]),
            metric=MetricRef(name=metric["name"], params=dict(metric.get("params") or {})),
            n_trials=int(data["n_trials"]),
            families=tuple(Family(f) for f in data["families"]),
            seed=int(data.get("seed", 0)),
            timeout_s=data.get("timeout_s"),
            losses=tuple(data.get("losses") or ()),
            overrides=dict(data.get("overrides") or {}),
            population_size=data.get("population_size"),
            confirmation_top_k=int(data.get("confirmation_top_k", 3)),
            confirmation_seeds=int(data.get("confirmation_seeds", 5)),
            split_column=data.get("split_column"),
            test_dataset=data.get("test_dataset"),
        )
