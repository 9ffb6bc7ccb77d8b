"""Regression surrogates — 1 - R² and the median absolute error: hand-computed cases."""

from __future__ import annotations

import pytest
import torch

from tests.engine.losses.harness import build, t
from workers.engine.spec import Task


def test_r2_loss_is_residual_over_total_sum_of_squares() -> None:
    # y = (1, 3, 2), f = (1, 2, 2): residual 1, total (1 + 1 + 0) = 2.
    loss = build("r2_loss", Task.REGRESSION)
    assert loss(t([[1.0, 2.0, 2.0]]), t([[1.0, 3.0, 2.0]])).item() == pytest.approx(0.5)


def test_r2_loss_of_the_batch_mean_is_one() -> None:
    loss = build("r2_loss", Task.REGRESSION)
    assert loss(t([[2.0, 2.0, 2.0]]), t([[1.0, 3.0, 2.0]])).item() == pytest.approx(1.0)


def test_r2_loss_floors_the_batch_variance_for_one_example() -> None:
    # One example: total 0, floored at 1 * 1e-3; residual 1 -> 1000.
    loss = build("r2_loss", Task.REGRESSION)
    assert loss(t([[1.0]]), t([[2.0]])).item() == pytest.approx(1000.0)


def test_median_ae_loss_is_the_median_absolute_residual() -> None:
    # |r| = (1, 3, 2, 0.5): even batch, mean of the middle two (1 and 2).
    loss = build("median_ae_loss", Task.REGRESSION)
    outputs = torch.zeros(1, 4, requires_grad=True)
    value = loss(outputs, t([[1.0, -3.0, 2.0, 0.5]]))
    assert value.item() == pytest.approx(1.5)
    value.sum().backward()
    assert outputs.grad is not None
    assert outputs.grad.tolist() == [[-0.5, 0.0, -0.5, 0.0]]


def test_median_ae_loss_of_an_odd_batch_is_its_middle_residual() -> None:
    loss = build("median_ae_loss", Task.REGRESSION)
    assert loss(t([[0.0, 0.0, 0.0]]), t([[5.0, -1.0, 0.25]])).item() == pytest.approx(1.0)
