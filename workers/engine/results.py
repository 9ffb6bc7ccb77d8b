"""What a finished search returns, as types: the engine builds it, the service stores and serves it.

The models are pydantic so that one definition serves the notebook caller (attributes), the
database (``model_dump(mode="json")``), and the API's responses and OpenAPI schema. They hold
numbers and names only: the sentences that explain a result to a person are the service's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workers.engine.param_values import ParamJson


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class MetricResult(_Model):
    """The metric the search served, with its resolved parameters."""

    name: str
    params: dict[str, ParamJson] = Field(default_factory=dict)
    direction: Literal["maximize", "minimize"]


class TrainingPlanResult(_Model):
    """How every trial trains (the plan sized from the data)."""

    optimizer: str = Field(description="Always adamw.")
    batch_size: int
    max_epochs: int
    eval_every_epochs: int
    early_stopping_patience_evals: int
    weight_decay: float
    learning_rate_drops: int = Field(
        default=0,
        description="Reduce-on-plateau: how many times a run that has not improved for half "
        "its patience has its learning rate multiplied by learning_rate_drop_factor (then gets "
        "fresh patience).",
    )
    learning_rate_drop_factor: float = 0.1


class TrainingSettings(_Model):
    """How one setup trains: the plan, with the searched batch size and learning rate, the
    median epoch its runs stopped at, and the seeds they used. While the search runs only the
    trial's own learning rate, batch size, best epoch and seed are known."""

    optimizer: str | None = None
    batch_size: int | None = None
    max_epochs: int | None = None
    eval_every_epochs: int | None = None
    early_stopping_patience_evals: int | None = None
    weight_decay: float | None = None
    learning_rate_drops: int | None = None
    learning_rate_drop_factor: float | None = None
    learning_rate: float | None = None
    epochs: int | None = Field(default=None, description="Median best epoch over the seeds.")
    seeds: list[int] = Field(default_factory=list)


class DecisionThreshold(_Model):
    """A decision threshold on the model's logit and as a probability (one per label for a
    multilabel task)."""

    logit: float | list[float]
    probability: float | list[float]

    @classmethod
    def from_logit(cls, logit: float | Sequence[float] | None) -> DecisionThreshold | None:
        """The threshold for ``logit`` (one per label if a sequence); None for none."""
        if logit is None:
            return None
        if isinstance(logit, int | float):
            return cls(logit=logit, probability=_sigmoid(logit))
        return cls(logit=list(logit), probability=[_sigmoid(v) for v in logit])


def decision_rule(
    multiclass: bool, tuned: float | Sequence[float] | None
) -> tuple[DecisionThreshold | None, list[float] | None]:
    """A run's tuned decision as the result shows it: ``(threshold, None)`` for binary and
    multilabel tasks, ``(None, class_offsets)`` for multiclass ones (offsets tuned for metrics
    that weigh classes; None for the raw arg-max)."""
    if not multiclass:
        return DecisionThreshold.from_logit(tuned), None
    if tuned is None or isinstance(tuned, int | float):
        return None, None
    return None, [float(v) for v in tuned]


def _sigmoid(logit: float) -> float:
    # math, not scipy: the API reads these types and imports neither numpy's nor scipy's.
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    odds = math.exp(logit)  # no overflow for very negative logits
    return odds / (1.0 + odds)


class FloorOnTest(StrEnum):
    """Whether a constrained metric's floor held on the test rows."""

    HELD = "held"  # the 95% interval's low end reaches the floor
    UNCERTAIN = "uncertain"  # the estimate reaches it, the interval does not
    MISSED = "missed"  # the estimate itself falls short


class ConstraintCheck(_Model):
    """The quantity a constrained metric holds at a floor (``recall_at_precision``: precision;
    ``precision_at_recall``: recall), at the thresholds chosen on validation."""

    quantity: Literal["precision", "recall"]
    floor: float = Field(description="min_precision or min_recall.")
    validation: float = Field(description="Mean over the confirmation seeds, on validation.")
    test: float = Field(description="Mean over the confirmation seeds, on test.")
    test_interval: list[float] = Field(
        description="95% bootstrap interval of the test value (resampled test rows)."
    )
    on_test: FloorOnTest


class Setup(_Model):
    """A loss setup and what it reached.

    While the search runs, ``validation`` is the trial's own value. In the final result each
    setup has been retrained on the confirmation seeds: ``validation`` and ``test`` are means
    over those seeds, with the per-seed values beside them and a 95% bootstrap interval on test.
    """

    trial_number: int
    arm: str | None = Field(
        description="baseline for the plain-loss arm, warm_start for an earlier job's best "
        "setup tried first, else search."
    )
    warm_start_from: str | None = Field(
        default=None, description="The earlier job whose best setup this trial ran (warm start)."
    )
    family: str
    loss: str
    loss_params: dict[str, float] = Field(default_factory=dict)
    training: TrainingSettings
    threshold: DecisionThreshold | None = Field(
        description="Decision threshold(s) on the logit and as probabilities (median over seeds)."
    )
    class_offsets: list[float] | None = Field(
        default=None,
        description="Multiclass: the offset added to each class's logit before the arg-max, "
        "tuned on validation for metrics that weigh classes (median over seeds); none for the "
        "raw arg-max. For expected_cost, the offset subtracted from each class's expected cost "
        "before Bayes' rule picks the cheapest (all 0: Bayes' rule on the raw probabilities).",
    )
    temperature: float | None = Field(
        default=None,
        description="For log_loss, brier and ece: the temperature T dividing the logits before "
        "the sigmoid or softmax (probabilities = softmax(logits / T)), fitted on validation "
        "(median over seeds); none when the metric fits none.",
    )
    trial_validation: float | None = Field(default=None, description="The search trial's value.")
    validation: float | None
    validation_std: float | None = None
    validation_seeds: list[float] = Field(default_factory=list)
    test: float | None = None
    test_interval: list[float] | None = Field(
        default=None, description="95% bootstrap interval of the test metric (resampled test set)."
    )
    test_seeds: list[float] = Field(default_factory=list)
    failed_runs: int = 0
    output_link: str | None = Field(
        default=None, description="identity, or log when the model outputs log-predictions."
    )
    code: str | None = Field(
        default=None,
        description="Self-contained PyTorch code that reproduces the loss, with the setup's "
        "batch size, learning rate, epoch budget and a predict helper carrying its decision "
        "rule (GET /v1/jobs/{id}/best?format=pytorch returns it as a file).",
    )
    keras_code: str | None = Field(
        default=None,
        description="The same as Keras 3 code (keras.ops only: TensorFlow, JAX or PyTorch "
        "backend), with the callbacks a stateful loss needs (GET "
        "/v1/jobs/{id}/best?format=keras); none in results from before Keras export.",
    )
    constraint: ConstraintCheck | None = Field(
        default=None,
        description="For recall_at_precision and precision_at_recall: the constrained quantity "
        "on validation and test, and whether its floor held on test.",
    )


class Verdict(StrEnum):
    """What the comparison with the baseline concluded."""

    NO_BASELINE = "no_baseline"  # the baseline did not complete: nothing to compare with
    BASELINE_LED = "baseline_led"  # the baseline had the best validation mean: keep it
    NOT_RELIABLE = "not_reliable"  # the leader did not pass the gate (lift not reliably > 0)
    BEATS_BASELINE = "beats_baseline"  # the winner's test lift is reliably above zero
    WORSE_ON_TEST = "worse_on_test"  # better on validation, reliably worse on test
    INCONCLUSIVE = "inconclusive"  # better on validation, test lift not told from zero


class Leader(_Model):
    """The finalist with the best mean validation metric over the confirmation seeds."""

    trial_number: int
    loss: str


class Gate(_Model):
    """The test that decided whether the leader is returned instead of the baseline: a paired
    bootstrap of the leader against the baseline, out of fold on the training rows (cross-fitted)
    or, when the rows are too few to cut into folds or cross-fitting is off, on validation."""

    method: Literal["cross_fitted", "validation"]
    rows: int = Field(description="Rows the two setups were compared on.")
    folds: int | None = Field(default=None, description="Folds of the training rows.")
    seeds_per_fold: int | None = None
    lift: float | None = Field(
        description="Leader minus baseline; positive is better (None: a setup failed every run)."
    )
    lift_interval: list[float] | None = Field(
        description="95% paired-bootstrap interval of the lift."
    )
    probability_better: float | None
    passed: bool = Field(description="The interval is above zero: the leader is returned.")
    failed_runs: int = Field(
        default=0, description="Cross-fitted runs that diverged (their seed is left out)."
    )


class Guardrail(_Model):
    """The returned setup against the baseline on one metric the job did not optimise, on test.
    ``lift`` is signed so that positive is better for the returned setup."""

    metric: str
    direction: Literal["maximize", "minimize"]
    winner: float
    baseline: float
    lift: float
    lift_interval: list[float] = Field(description="95% paired-bootstrap interval of the lift.")
    significantly_worse: bool = Field(
        description="The whole interval is below zero: the returned setup is reliably worse here."
    )


class Comparison(_Model):
    """The returned setup against the plain baseline. Lifts are signed so that positive is
    better, in the metric's units; intervals are 95% paired-bootstrap intervals."""

    verdict: Verdict
    test_lift: float | None = None
    test_lift_interval: list[float] | None = None
    probability_better: float | None = Field(
        default=None, description="Share of resampled test sets in which the winner is better."
    )
    significant: bool | None = None
    validation_lift: float | None = None
    validation_lift_interval: list[float] | None = None
    leader: Leader | None = None
    gate: Gate | None = Field(
        default=None,
        description="How the leader was tested against the baseline (absent when the baseline "
        "led on validation).",
    )
    guardrails: list[Guardrail] = Field(
        default_factory=list,
        description="The returned setup against the baseline on secondary metrics of the task, on "
        "test (empty when the baseline is returned).",
    )


class FinalistSummary(_Model):
    """One finalist of the confirmation: its search value and its retrained validation."""

    trial_number: int
    loss: str
    family: str
    trial_validation: float | None
    validation_mean: float | None
    validation_std: float | None
    completed_runs: int
    winner: bool


class Confirmation(_Model):
    """How the finalists were retrained and compared."""

    top_k: int
    seeds: int
    folds: int = Field(default=0, description="Folds the gate cross-fits over (0: off).")
    seeds_per_fold: int = 0
    bootstrap_resamples: int
    finalists: list[FinalistSummary]
    leader_trial_number: int


class Network(_Model):
    """The model every trial trains."""

    type: Literal["mlp"]
    hidden: list[int]
    activation: str


class SplitRows(_Model):
    train: int
    validation: int
    test: int


class DatasetSource(_Model):
    """Where the data came from, exactly enough to read the same bytes again."""

    reference: str = Field(description="The dataset as the job named it.")
    dataset_id: str | None = Field(default=None, description="The uploaded dataset, if one.")
    fingerprint: str | None = Field(
        default=None, description="SHA-256 of the file the search read (null: a builtin set)."
    )
    size_bytes: int | None = None
    version: str | None = Field(
        default=None, description="The object's version in its store, where it has one."
    )
    rows: int | None = Field(default=None, description="Rows in the file, before any split.")
    columns: int | None = Field(default=None, description="Columns in the file.")


class DatasetSummary(_Model):
    """The data as the search saw it."""

    rows: int
    rows_dropped_missing_target: int
    feature_columns: int
    numeric_columns: int
    encoded_features: int
    split_rows: SplitRows
    split: str = Field(description="How rows were split into train, validation and test.")
    class_counts: dict[str, int] | None = None
    soft_targets: bool = Field(
        default=False,
        description="Multiclass soft targets (a label distribution per row); class_counts then "
        "count rows by their most probable class.",
    )
    source: DatasetSource | None = Field(
        default=None, description="Where the data came from (provenance)."
    )


class WarmStartTrial(_Model):
    """An earlier job's best setup, offered to the search as one of its first trials."""

    from_job: str
    loss: str
    loss_params: dict[str, float] = Field(default_factory=dict)
    learning_rate: float | None = None
    batch_size: int | None = None
    trial_number: int | None = Field(
        default=None, description="The trial that ran it (null: it did not run)."
    )
    used: bool = Field(description="Whether it ran as a trial of this search.")
    reason: str | None = Field(
        default=None,
        description="Why it did not run (not searched by this job, out of range, "
        "no room in the trial budget, the search ended first).",
    )


class SearchResult(_Model):
    """Everything a finished search returns."""

    metric: MetricResult
    best: Setup
    baseline: Setup | None
    comparison: Comparison
    confirmation: Confirmation
    network: Network
    dataset: DatasetSummary
    search_space: dict[str, list[str]] = Field(description="Family → losses searched.")
    training: TrainingPlanResult
    trial_counts: dict[str, int] = Field(description="Trials by state.")
    environment: dict[str, str] = Field(
        description="Versions of everything that shapes the numbers, and the device."
    )
    warm_start: list[WarmStartTrial] = Field(
        default_factory=list,
        description="The earlier jobs' best setups the job was warm-started from, in the order "
        "they were queued, and the trial each one ran as (empty without warm_start).",
    )


class TrialTraining(_Model):
    """How one search trial trained (see ``trial_records.TRAINING_ATTRS``)."""

    learning_rate: float | None = None
    batch_size: int | None = None
    seed: int | None = None
    best_epoch: int | None = None
    epochs_trained: int | None = None
