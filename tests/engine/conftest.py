"""Fixtures shared by the engine tests: one small real dataset, prepared once per session."""

from __future__ import annotations

import pytest
import torch

from workers.engine.datasets import PreparedData, prepare_dataset, resolve_reference
from workers.engine.evaluation import Evaluator
from workers.engine.metrics import get_metric
from workers.engine.training import DeviceData


@pytest.fixture(scope="session")
def breast_cancer() -> PreparedData:
    """scikit-learn's breast cancer data (569 rows, binary), split 60/20/20 with seed 0."""
    reference = resolve_reference("builtin:breast_cancer", [])
    return prepare_dataset(reference, ("target",), None, 0)


@pytest.fixture(scope="session")
def breast_cancer_device(breast_cancer: PreparedData) -> DeviceData:
    return DeviceData.create(breast_cancer, torch.device("cpu"))


@pytest.fixture(scope="session")
def roc_auc_evaluator(breast_cancer: PreparedData) -> Evaluator:
    return Evaluator(get_metric("roc_auc"), {}, breast_cancer)
