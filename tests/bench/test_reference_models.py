"""The reference columns of bench.quality: plain scikit-learn models on the job's own split,
scored by the engine's evaluator exactly as the searched MLP is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from bench.common import BENCH_DATASETS
from bench.reference_models import reference_scores
from workers.engine.datasets import PreparedData, prepare_dataset, resolve_reference
from workers.engine.spec import Task


def prepared(file: str, task: Task) -> PreparedData:
    reference = resolve_reference(file, [Path(BENCH_DATASETS)])
    return prepare_dataset(reference, ("target",), task, seed=0)


def test_the_linear_reference_is_logistic_regression_with_the_validation_threshold() -> None:
    data = prepared("breast_cancer.csv.gz", Task.BINARY)
    scores = {s.model: s for s in reference_scores(data, "f1", {}, seed=0)}
    assert set(scores) == {"linear", "hist_gb"}
    model = LogisticRegression(max_iter=2000, random_state=0)
    model.fit(data.train.X, data.train.y.astype(np.int64))
    val_logits = model.decision_function(data.validation.X)
    # The threshold that reaches the reported validation F1, applied unchanged to test.
    cuts = np.unique(val_logits)
    val_f1 = [f1_score(data.validation.y_true, val_logits >= c) for c in cuts]
    assert scores["linear"].validation == pytest.approx(max(val_f1))
    assert 0.8 < scores["linear"].test <= 1.0
    assert 0.8 < scores["hist_gb"].test <= 1.0


def test_regression_references_are_scored_in_the_target_s_units() -> None:
    data = prepared("diabetes.csv.gz", Task.REGRESSION)
    scores = reference_scores(data, "mae", {}, seed=0)
    spread = float(np.mean(np.abs(data.test.y_true - data.test.y_true.mean())))
    for score in scores:
        assert 0.0 < score.test < spread  # better than predicting the mean, in target units
