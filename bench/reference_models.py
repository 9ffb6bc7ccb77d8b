"""Reference columns for bench.quality: what a user would otherwise pick, scored the same way.

A linear model (logistic regression; ridge for regression) and scikit-learn's
HistGradientBoosting, fitted on the job's training rows with the job's preprocessing, their
decision rule (threshold, per-label thresholds or class offsets) tuned on validation by the
engine's own :class:`~workers.engine.evaluation.Evaluator`, and scored on the same test rows
as the searched MLP. Their outputs are handed over as logits (log-odds, log-probabilities) or
standardised regression values, the units the evaluator reads from the MLP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logit
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import MultiOutputClassifier

from workers.engine.datasets import PreparedData
from workers.engine.evaluation import Evaluator
from workers.engine.metrics import check_metric_fits, get_metric
from workers.engine.spec import MetricRef, Task

_CLIP = 1e-7  # probabilities of exactly 0 or 1 have no finite logit

# Fits on (X, y) and returns a function from features to outputs in the evaluator's units.
_Fitter = Callable[[np.ndarray, np.ndarray, Task, int], Callable[[np.ndarray], np.ndarray]]


@dataclass(frozen=True)
class ReferenceScore:
    """One reference model's metric on validation (decision tuned there) and on test."""

    model: str
    validation: float
    test: float


def _as_logits(probabilities: np.ndarray) -> np.ndarray:
    return np.asarray(logit(np.clip(probabilities, _CLIP, 1.0 - _CLIP)))


def _linear(
    features: np.ndarray, y: np.ndarray, task: Task, seed: int
) -> Callable[[np.ndarray], np.ndarray]:
    if task is Task.REGRESSION:
        ridge = Ridge(alpha=1.0).fit(features, y)
        return lambda rows: np.asarray(ridge.predict(rows))
    if task is Task.MULTILABEL:
        per_label = OneVsRestClassifier(LogisticRegression(max_iter=2000))
        per_label.fit(features, y.astype(np.int64))
        return lambda rows: np.asarray(per_label.decision_function(rows))
    model = LogisticRegression(max_iter=2000, random_state=seed).fit(features, y.astype(np.int64))
    return lambda rows: np.asarray(model.decision_function(rows))  # log-odds or class logits


def _boosted(
    features: np.ndarray, y: np.ndarray, task: Task, seed: int
) -> Callable[[np.ndarray], np.ndarray]:
    if task is Task.REGRESSION:
        regressor = HistGradientBoostingRegressor(random_state=seed).fit(features, y)
        return lambda rows: np.asarray(regressor.predict(rows))
    if task is Task.MULTILABEL:
        per_label = MultiOutputClassifier(HistGradientBoostingClassifier(random_state=seed))
        per_label.fit(features, y.astype(np.int64))
        return lambda rows: _as_logits(
            np.stack([p[:, 1] for p in per_label.predict_proba(rows)], axis=1)
        )
    model = HistGradientBoostingClassifier(random_state=seed).fit(features, y.astype(np.int64))
    if task is Task.BINARY:
        return lambda rows: _as_logits(model.predict_proba(rows)[:, 1])
    return lambda rows: np.log(np.clip(model.predict_proba(rows), _CLIP, 1.0))


REFERENCE_MODELS: dict[str, _Fitter] = {"linear": _linear, "hist_gb": _boosted}
"""Name → fitter: logistic regression (ridge for regression), and HistGradientBoosting."""


def reference_scores(
    data: PreparedData, metric: str, metric_params: dict[str, Any], seed: int
) -> list[ReferenceScore]:
    """Every reference model's validation and test value of ``metric`` on ``data``."""
    n_classes = len(data.classes) if data.task in (Task.BINARY, Task.MULTICLASS) else None
    params = check_metric_fits(MetricRef(name=metric, params=metric_params), data.task, n_classes)
    evaluator = Evaluator(get_metric(metric), params, data)
    scores = []
    for name, fit in REFERENCE_MODELS.items():
        predict = fit(data.train.X, data.train.y, data.task, seed)
        validation = evaluator.score_validation(predict(data.validation.X))
        decision = validation.threshold
        test_inputs = predict(data.test.X)
        test = evaluator.score_split(
            data.test, test_inputs, decision, temperature=validation.temperature
        )
        scores.append(ReferenceScore(name, validation.value, test))
    return scores
