"""The metric-aware, conditional Optuna search space: family → loss → that loss's parameters.

By default a job searches, in every requested family, the losses that serve its metric (the
surrogates that target it, the weighted losses, the plain proxies); a job may instead list the
losses to search, and narrow or fix any parameter (see :mod:`workers.engine.overrides`).

Parameter names are namespaced so each branch has its own distributions: ``family``,
``<family>.loss``, ``<loss>.<param>``, ``<loss>.batch_size`` (batch-level losses, whose estimate
depends on the batch) and ``learning_rate``. The baseline arm is enqueued with its loss fixed;
only its learning rate goes through the space. A warm-start trial (an earlier job's best setup)
is enqueued with every parameter fixed under these names (:meth:`SearchSpace.fixed_params`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna

from workers.engine.errors import SpecError
from workers.engine.losses import LOSSES, LossSpec, baseline_loss, get_loss, losses_for
from workers.engine.overrides import (
    LEARNING_RATE_RANGE,
    TRAINING,
    Overrides,
    Range,
    resolve_overrides,
)
from workers.engine.spec import Family, Task

BASELINE_LEARNING_RATE = 1e-3
BASELINE_SWEEP = (1.0, 10**-0.5, 10**0.5)  # multiples of the default learning rate
BATCH_MULTIPLIERS = (1, 2, 4)  # batch-level losses try the default batch size and larger ones
WARM_START = "warm_start"  # the arm of a trial that runs an earlier job's best setup


@dataclass(frozen=True)
class TrialConfig:
    """The loss setup one trial trains with (``batch_size`` None: the job's default)."""

    arm: str  # "baseline", "warm_start" or "search"
    family: str
    loss: str
    loss_params: dict[str, float] = field(default_factory=dict)
    learning_rate: float = BASELINE_LEARNING_RATE
    batch_size: int | None = None
    warm_start_from: str | None = None  # the earlier job a warm-start trial's setup is from

    def as_attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "arm": self.arm,
            "family": self.family,
            "loss": self.loss,
            "loss_params": self.loss_params,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
        }
        if self.warm_start_from is not None:
            attrs["warm_start_from"] = self.warm_start_from
        return attrs


@dataclass(frozen=True)
class SearchSpace:
    """The losses a job may try, grouped by family, with their (possibly narrowed) ranges."""

    task: Task
    metric: str
    candidates: dict[Family, list[LossSpec]]
    ranges: dict[str, dict[str, Range]] = field(default_factory=dict)
    default_batch_size: int = 64
    max_batch_size: int = 1024

    @classmethod
    def build(
        cls,
        task: Task,
        metric: str,
        families: tuple[Family, ...],
        losses: tuple[str, ...] = (),
        overrides: Overrides | None = None,
        default_batch_size: int = 64,
        n_train: int = 1_000_000,
        metric_params: Mapping[str, object] | None = None,
        soft_targets: bool = False,
    ) -> SearchSpace:
        """The space for ``task`` and ``metric`` (with its resolved ``metric_params``), or
        SpecError naming what does not fit. With ``soft_targets`` (multiclass label
        distributions) only the losses that train on a distribution are searched."""
        candidates = (
            _explicit(task, families, losses, soft_targets)
            if losses
            else losses_for(task, metric, families, metric_params, soft_targets)
        )
        if not candidates:
            suited = losses_for(task, metric, tuple(Family), metric_params, soft_targets)
            available = sorted(f.value for f in suited)
            raise SpecError(
                f"no loss in families {[f.value for f in families]} suits metric {metric!r} on a "
                f"{task.value} task; families with losses for it: {available}",
                field="families",
            )
        ranges = resolve_overrides(overrides or {}, task)
        searched = {spec.name for specs in candidates.values() for spec in specs}
        stray = sorted(set(ranges) - searched - {TRAINING})
        if stray:
            raise SpecError(
                f"parameters are given for {stray[0]!r}, which this job does not search"
            )
        half = max(n_train // 2, 1)
        largest_power_of_two = 1 << (half.bit_length() - 1)
        max_batch = max(default_batch_size, largest_power_of_two)
        return cls(task, metric, candidates, ranges, default_batch_size, max_batch)

    def describe(self) -> dict[str, list[str]]:
        """Family → loss names, for results and the API."""
        return {family.value: [s.name for s in specs] for family, specs in self.candidates.items()}

    def suggest(self, trial: optuna.Trial) -> TrialConfig:
        """Draw a configuration for ``trial`` (or read back the fixed one of an enqueued trial)."""
        learning_rate = self._suggest(trial, "learning_rate", self._learning_rate_range())
        if trial.user_attrs.get("arm") == "baseline":
            spec = baseline_loss(self.task)
            batch = self._batch_size(trial, spec)
            return TrialConfig("baseline", spec.family.value, spec.name, {}, learning_rate, batch)
        family = trial.suggest_categorical("family", [f.value for f in self.candidates])
        names = [spec.name for spec in self.candidates[Family(family)]]
        name = str(trial.suggest_categorical(f"{family}.loss", names))
        spec = get_loss(name)
        narrowed = self.ranges.get(name, {})
        params = {
            p.name: self._suggest(
                trial,
                f"{name}.{p.name}",
                narrowed.get(p.name, Range(p.low, p.high, p.log, p.integer)),
            )
            for p in spec.params_for(self.task)
        }
        batch = self._batch_size(trial, spec)
        if trial.user_attrs.get("arm") == WARM_START:
            source = trial.user_attrs.get("warm_start_from")
            return TrialConfig(WARM_START, str(family), name, params, learning_rate, batch, source)
        return TrialConfig("search", str(family), name, params, learning_rate, batch)

    def fixed_params(
        self,
        loss: str,
        loss_params: Mapping[str, float],
        learning_rate: float | None,
        batch_size: int | None,
    ) -> dict[str, Any] | str:
        """The parameters, under this space's names, that make a trial run exactly this setup,
        or why the space cannot hold it (a sentence)."""
        family = next(
            (f for f, specs in self.candidates.items() if any(s.name == loss for s in specs)), None
        )
        if family is None:
            return f"loss {loss!r} is not searched by this job"
        spec = get_loss(loss)
        params: dict[str, Any] = {"family": family.value, f"{family.value}.loss": loss}
        narrowed = self.ranges.get(loss, {})
        wanted = {p.name for p in spec.params_for(self.task)}
        stray = sorted(set(loss_params) - wanted)
        if stray:
            return f"{loss} takes no parameter {stray[0]!r} on a {self.task.value} task"
        for p in spec.params_for(self.task):
            if p.name not in loss_params:
                return f"the setup gives no value for {loss}.{p.name}"
            where = narrowed.get(p.name, Range(p.low, p.high, p.log, p.integer))
            problem = _place(params, f"{loss}.{p.name}", float(loss_params[p.name]), where)
            if problem:
                return problem
        if learning_rate is None:
            return "the setup gives no learning rate"
        problem = _place(params, "learning_rate", learning_rate, self._learning_rate_range())
        if problem:
            return problem
        fixed_or_range = self.ranges.get(TRAINING, {}).get("batch_size")
        if fixed_or_range is not None or spec.batch_level:
            if batch_size is None:
                return f"the setup gives no batch size, which {loss} searches"
            if fixed_or_range is not None:
                problem = _place(params, f"{loss}.batch_size", batch_size, fixed_or_range)
                if problem:
                    return problem
            else:
                choices = self._batch_choices()
                if batch_size not in choices:
                    return f"batch size {batch_size} is not one this job tries ({choices})"
                params[f"{loss}.batch_size"] = batch_size
        return params

    def _learning_rate_range(self) -> Range:
        return self.ranges.get(TRAINING, {}).get(
            "learning_rate", Range(*LEARNING_RATE_RANGE, log=True)
        )

    def _batch_size(self, trial: optuna.Trial, spec: LossSpec) -> int | None:
        fixed_or_range = self.ranges.get(TRAINING, {}).get("batch_size")
        if fixed_or_range is not None:
            return int(self._suggest(trial, f"{spec.name}.batch_size", fixed_or_range))
        if not spec.batch_level:
            return None
        return int(trial.suggest_categorical(f"{spec.name}.batch_size", self._batch_choices()))

    def _batch_choices(self) -> list[int]:
        """The batch sizes a batch-level loss tries."""
        return sorted(
            {min(self.default_batch_size * k, self.max_batch_size) for k in BATCH_MULTIPLIERS}
        )

    @staticmethod
    def _suggest(trial: optuna.Trial, name: str, where: Range) -> float:
        if where.fixed:
            return where.low
        if where.integer:
            return float(trial.suggest_int(name, int(where.low), int(where.high), log=where.log))
        return trial.suggest_float(name, where.low, where.high, log=where.log)


def _place(params: dict[str, Any], name: str, value: float, where: Range) -> str | None:
    """Put ``value`` in ``params`` under ``name`` if ``where`` holds it (a fixed parameter
    needs no entry), else say why not."""
    if where.integer and value != int(value):
        return f"{name} = {value} is not a whole number"
    if not where.low <= value <= where.high:
        held = where.low if where.fixed else [where.low, where.high]
        return f"{name} = {value} is outside this job's {held}"
    if not where.fixed:
        params[name] = int(value) if where.integer else float(value)
    return None


def _explicit(
    task: Task, families: tuple[Family, ...], names: tuple[str, ...], soft_targets: bool = False
) -> dict[Family, list[LossSpec]]:
    """The listed losses, by family; each must exist, fit the task and its targets (hard or
    soft), and be in ``families``."""
    grouped: dict[Family, list[LossSpec]] = {}
    for name in dict.fromkeys(names):
        if name not in LOSSES:
            raise SpecError(
                f"unknown loss {name!r}; losses are: {', '.join(sorted(LOSSES))}", field="losses"
            )
        spec = LOSSES[name]
        if task not in spec.tasks:
            raise SpecError(f"loss {name!r} is not defined for a {task.value} task", field="losses")
        if not spec.fits_targets(soft_targets):
            raise SpecError(_target_refusal(name, soft_targets), field="losses")
        if spec.family not in families:
            raise SpecError(
                f"loss {name!r} is in family {spec.family.value!r}, which the job's families "
                f"{[f.value for f in families]} leave out",
                field="losses",
            )
        grouped.setdefault(spec.family, []).append(spec)
    return grouped


def _target_refusal(name: str, soft_targets: bool) -> str:
    if not soft_targets:
        return (
            f"loss {name!r} is for soft targets (a class distribution per row); on hard labels "
            "it is cross_entropy exactly"
        )
    usable = sorted(n for n, spec in LOSSES.items() if spec.soft_targets)
    return (
        f"loss {name!r} takes hard class labels, and this job's targets are class "
        f"distributions (soft targets); losses for soft targets: {', '.join(usable)}"
    )


def enqueue_baseline(study: optuna.Study, space: SearchSpace, n_trials: int) -> list[float]:
    """Queue the baseline arm so it runs first, whatever the budget; returns the learning rates
    queued (one trial each).

    The plain loss gets its own learning-rate sweep (the default first, then half a decade
    either side; one tenth of the budget, one to three trials), so it is compared tuned, not at
    one guessed setting; the search's sampler may add more trials of it.
    """
    lr = space._learning_rate_range()
    if lr.fixed:
        rates = [lr.low]
    else:
        sweep = BASELINE_SWEEP[: min(max(n_trials // 10, 1), len(BASELINE_SWEEP))]
        rates = [BASELINE_LEARNING_RATE * factor for factor in sweep]
        rates = list(dict.fromkeys(min(max(rate, lr.low), lr.high) for rate in rates))
    for rate in rates:
        study.enqueue_trial(
            {"learning_rate": rate}, user_attrs={"arm": "baseline"}, skip_if_exists=False
        )
    return rates
