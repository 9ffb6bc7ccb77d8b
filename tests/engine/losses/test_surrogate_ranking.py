"""Ranking surrogates — pairwise AUC losses and Smooth-AP: hand-computed cases and limits."""

from __future__ import annotations

import math

import pytest
import torch

from tests.engine.losses.harness import LN3, build, t
from workers.engine.spec import Task

# Member 1: a positive scored 2, negatives 0 and 1 (pair margins 2 and 1). Member 2: the
# positive below both negatives (margins -1 and -2).
SCORES = t([[2.0, 0.0, 1.0], [-1.0, 0.0, 1.0]])
LABELS = t([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])


def test_pairwise_auc_averages_logistic_loss_over_positive_negative_pairs() -> None:
    value = build("pairwise_auc", Task.BINARY)(SCORES, LABELS)
    expected_ranked = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))) / 2
    expected_reversed = (math.log1p(math.exp(1.0)) + math.log1p(math.exp(2.0))) / 2
    assert value.tolist() == pytest.approx([expected_ranked, expected_reversed], rel=1e-6)


def test_pairwise_auc_exp_averages_exp_of_minus_the_margin() -> None:
    value = build("pairwise_auc_exp", Task.BINARY)(SCORES, LABELS)
    expected = [(math.exp(-2.0) + math.exp(-1.0)) / 2, (math.exp(1.0) + math.exp(2.0)) / 2]
    assert value.tolist() == pytest.approx(expected, rel=1e-6)


def test_pairwise_auc_exp_continues_linearly_below_a_margin_of_minus_twenty() -> None:
    # Margin -30: the tangent at -20, e^20 * (1 + 10); its slope stays -e^20.
    outputs = t([[-30.0, 0.0]]).requires_grad_(True)
    value = build("pairwise_auc_exp", Task.BINARY)(outputs, t([[1.0, 0.0]]))
    assert value.item() == pytest.approx(11.0 * math.exp(20.0), rel=1e-6)
    value.sum().backward()
    assert outputs.grad is not None
    assert outputs.grad[0, 0].item() == pytest.approx(-math.exp(20.0), rel=1e-6)


def test_pairwise_auc_sqhinge_penalises_pairs_inside_the_margin() -> None:
    # Positive 0.5, negatives 0 and 1: margins 0.5 and -0.5. Margin 1: (0.25 + 2.25) / 2;
    # margin 0.5: (0 + 1) / 2.
    loss = build("pairwise_auc_sqhinge", Task.BINARY, {"margin": [1.0, 0.5]})
    value = loss(t([[0.5, 0.0, 1.0]] * 2), t([[1.0, 0.0, 0.0]] * 2))
    assert value.tolist() == pytest.approx([1.25, 0.5], rel=1e-6)


@pytest.mark.parametrize("name", ["pairwise_auc", "pairwise_auc_exp", "pairwise_auc_sqhinge"])
def test_a_pairwise_loss_of_a_batch_with_one_class_is_zero(name: str) -> None:
    loss = build(name, Task.BINARY, {"margin": [1.0, 1.0]} if "sqhinge" in name else None)
    value = loss(t([[3.0, -1.0], [3.0, -1.0]]), t([[0.0, 0.0], [1.0, 1.0]]))
    assert value.tolist() == [0.0, 0.0]


def test_pairwise_auc_multilabel_averages_the_labels_that_have_pairs() -> None:
    # Label 0 is member 1 of SCORES; label 1 has positives only and is left out of the mean.
    loss = build("pairwise_auc", Task.MULTILABEL, class_counts=[5.0, 5.0])
    outputs = torch.tensor([[[2.0, 1.0], [0.0, 4.0], [1.0, -2.0]]])
    targets = torch.tensor([[[1.0, 1.0], [0.0, 1.0], [0.0, 1.0]]])
    expected = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))) / 2
    assert loss(outputs, targets).item() == pytest.approx(expected, rel=1e-6)


def test_smooth_ap_relaxes_the_rank_of_each_positive_with_a_sigmoid() -> None:
    # p = (3/4, 1/4), y = (1, 0). The positive's rank among all is 1 + sigmoid((1/4 - 3/4)/tau);
    # tau = 0.5 / ln 3 makes it 1 + 1/4, so AP = 4/5.
    loss = build("smooth_ap", Task.BINARY, {"temperature": [0.5 / LN3]})
    assert loss(t([[LN3, -LN3]]), t([[1.0, 0.0]])).item() == pytest.approx(0.2, abs=1e-6)


def test_smooth_ap_at_a_low_temperature_is_one_minus_average_precision() -> None:
    # Scores 3 (pos), 2 (neg), 1 (pos), -1 (neg): precision 1 at the first positive, 2/3 at the
    # second, AP = 5/6.
    loss = build("smooth_ap", Task.BINARY, {"temperature": [1e-3]})
    value = loss(t([[3.0, 1.0, 2.0, -1.0]]), t([[1.0, 1.0, 0.0, 0.0]]))
    assert value.item() == pytest.approx(1.0 / 6.0, abs=1e-6)


def test_smooth_ap_at_a_high_temperature_counts_every_other_example_as_half_above() -> None:
    # Every sigmoid -> 1/2: R_P = 1 + 1/2, R = 1 + 3/2, AP = 3/5 whatever the scores.
    loss = build("smooth_ap", Task.BINARY, {"temperature": [1e6]})
    value = loss(t([[3.0, 1.0, 2.0, -1.0]]), t([[1.0, 1.0, 0.0, 0.0]]))
    assert value.item() == pytest.approx(0.4, abs=1e-5)


def test_smooth_ap_of_a_batch_without_positives_is_zero() -> None:
    loss = build("smooth_ap", Task.BINARY, {"temperature": [0.01]})
    assert loss(t([[3.0, 1.0]]), t([[0.0, 0.0]])).item() == 0.0
