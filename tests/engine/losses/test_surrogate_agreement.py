"""Agreement surrogates — soft MCC and soft Cohen's kappa: hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from tests.engine.losses.harness import LN2, LN3, build, t
from workers.engine.spec import Task

# Rows (1/2, 1/4, 1/4), (1/3, 1/3, 1/3), (1/4, 1/2, 1/4).
THREE_ROWS = torch.tensor([[[LN2, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, LN2, 0.0]]])


def test_soft_mcc_binary_uses_the_four_soft_counts() -> None:
    # p = (1/2, 3/4, 1/4), y = (1, 0, 1): tp 3/4, fp 3/4, fn 5/4, tn 1/4.
    # MCC = (3/16 - 15/16) / sqrt(3/2 * 2 * 1 * 3/2) = -(3/4) / (3 / sqrt 2) = -sqrt(2)/4.
    loss = build("soft_mcc", Task.BINARY)
    value = loss(t([[0.0, LN3, -LN3]]), t([[1.0, 0.0, 1.0]]))
    assert value.item() == pytest.approx(1.0 + math.sqrt(2.0) / 4.0, abs=1e-4)  # eps 1e-5 each


def test_soft_mcc_multiclass_is_gorodkins_rk_of_the_soft_confusion_matrix() -> None:
    # y = (0, 1, 1), s = 3: c = 1/2 + 1/3 + 1/2 = 4/3; predicted mass (13/12, 13/12, 10/12);
    # class counts (1, 2, 0). cov = 4 - (13/12 + 26/12) = 3/4;
    # s^2 - sum p_k^2 = 9 - 438/144 = 858/144; s^2 - sum t_k^2 = 4.
    loss = build("soft_mcc", Task.MULTICLASS)
    value = loss(THREE_ROWS, torch.tensor([[0, 1, 1]]))
    expected_mcc = 0.75 / math.sqrt(858.0 / 144.0 * 4.0)
    assert value.item() == pytest.approx(1.0 - expected_mcc, abs=1e-6)


def test_soft_mcc_multiclass_batch_of_one_class_is_zero_correlation_without_gradient() -> None:
    outputs = torch.randn(1, 5, 3, requires_grad=True)
    value = build("soft_mcc", Task.MULTICLASS)(outputs, torch.full((1, 5), 2))
    value.sum().backward()
    assert value.item() == pytest.approx(1.0)
    assert outputs.grad is not None
    assert torch.count_nonzero(outputs.grad) == 0


def test_soft_mcc_is_zero_for_confident_correct_predictions_up_to_the_count_smoothing() -> None:
    loss = build("soft_mcc", Task.BINARY)
    value = loss(t([[40.0, -40.0, 40.0]]), t([[1.0, 0.0, 1.0]]))
    assert value.item() == pytest.approx(0.0, abs=1e-4)


def test_soft_qwk_is_weighted_disagreement_over_chance_disagreement() -> None:
    # Rows (1/2, 1/4, 1/4) y=0 and (1/3, 1/3, 1/3) y=2, quadratic weights (i - j)^2:
    # sum w O = (1/4 + 4/4) + (4/3 + 1/3) = 35/12. Predicted mass (5/6, 7/12, 7/12), class
    # counts (1, 0, 1), E = outer / 2: sum w E = 35/24 + 47/24 = 41/12. Loss 35/41.
    # Linear weights |i - j|: 3/4 + 1 = 7/4 against 21/24 + 27/24 = 2: loss 7/8.
    outputs = torch.tensor([[[LN2, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    targets = torch.tensor([[0, 2]])
    quadratic = build("soft_qwk", Task.MULTICLASS, metric_params={"weights": "quadratic"})
    linear = build("soft_qwk", Task.MULTICLASS, metric_params={"weights": "linear"})
    assert quadratic(outputs, targets).item() == pytest.approx(35.0 / 41.0, abs=1e-6)
    assert linear(outputs, targets).item() == pytest.approx(7.0 / 8.0, abs=1e-6)


def test_soft_qwk_defaults_to_quadratic_weights() -> None:
    outputs, targets = THREE_ROWS, torch.tensor([[0, 2, 1]])
    default = build("soft_qwk", Task.MULTICLASS, metric_params={})
    quadratic = build("soft_qwk", Task.MULTICLASS, metric_params={"weights": "quadratic"})
    assert default(outputs, targets).item() == quadratic(outputs, targets).item()


def test_soft_qwk_is_zero_for_confident_correct_and_one_on_a_single_class_batch() -> None:
    loss = build("soft_qwk", Task.MULTICLASS)
    perfect = torch.tensor([[[40.0, 0.0, 0.0], [0.0, 0.0, 40.0]]])
    assert loss(perfect, torch.tensor([[0, 2]])).item() == pytest.approx(0.0, abs=1e-6)
    assert loss(THREE_ROWS, torch.tensor([[1, 1, 1]])).item() == pytest.approx(1.0, abs=1e-6)
