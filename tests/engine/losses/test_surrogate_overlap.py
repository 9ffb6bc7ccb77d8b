"""Overlap surrogates — V-Net Dice, Tversky, focal Tversky, Lovász: hand-computed cases and
the behaviour that sets each apart."""

from __future__ import annotations

import pytest
import torch

from tests.engine.losses.harness import LN2, LN3, build, t
from workers.engine.spec import Task

# p = (1/2, 3/4, 1/4), y = (1, 0, 1): tp 3/4, fp 3/4, fn 5/4.
LOGITS, TARGETS = t([[0.0, LN3, -LN3]]), t([[1.0, 0.0, 1.0]])
# Multiclass rows (1/2, 1/4, 1/4) y=0 and (1/3, 1/3, 1/3) y=1; class 2 absent.
MC_LOGITS, MC_TARGETS = torch.tensor([[[LN2, 0.0, 0.0], [0.0, 0.0, 0.0]]]), torch.tensor([[0, 1]])
SMOOTH = 1e-5


def test_soft_dice_squares_the_probabilities_in_the_denominator() -> None:
    # 2 sum p y = 3/2; sum p^2 = 1/4 + 9/16 + 1/16 = 7/8; sum y^2 = 2. Dice = 1.5 / 2.875 = 12/23,
    # where soft F1 is 3/7.
    loss = build("soft_dice", Task.BINARY)
    expected = 1.0 - (1.5 + SMOOTH) / (2.875 + SMOOTH)
    assert loss(LOGITS, TARGETS).item() == pytest.approx(expected, abs=1e-7)


def test_soft_dice_pushes_down_false_positives_of_a_class_absent_from_the_batch() -> None:
    # No positives, p = 1/2 twice: Dice = s / (1/2 + s), loss ~ 1, and raising a logit raises
    # the loss (soft_f1 is flat there).
    outputs = torch.zeros(1, 2, requires_grad=True)
    value = build("soft_dice", Task.BINARY)(outputs, torch.zeros(1, 2))
    assert value.item() == pytest.approx(1.0 - SMOOTH / (0.5 + SMOOTH), abs=1e-7)
    value.sum().backward()
    assert outputs.grad is not None
    assert (outputs.grad > 0).all()


def test_soft_dice_multiclass_averages_every_class() -> None:
    # Class 0: 2 * 1/2 / (1/4 + 1/9 + 1) = 36/49; class 1: 2/3 / (1/16 + 1/9 + 1) = 96/169;
    # class 2: s / (1/16 + 1/9 + s) ~ 0.
    loss = build("soft_dice", Task.MULTICLASS, class_counts=[1.0, 1.0, 1.0])
    dice = [
        (1.0 + SMOOTH) / (1.0 / 4 + 1.0 / 9 + 1.0 + SMOOTH),
        (2.0 / 3 + SMOOTH) / (1.0 / 16 + 1.0 / 9 + 1.0 + SMOOTH),
        SMOOTH / (1.0 / 16 + 1.0 / 9 + SMOOTH),
    ]
    assert loss(MC_LOGITS, MC_TARGETS).item() == pytest.approx(1.0 - sum(dice) / 3, abs=1e-6)


def test_tversky_weighs_false_positives_by_alpha_and_false_negatives_by_beta() -> None:
    # alpha 0.3, beta 0.7: 0.75 / (0.75 + 0.225 + 0.875) = 15/37. alpha = beta = 1/2 is soft F1.
    loss = build("tversky", Task.BINARY, {"alpha": [0.3, 0.5], "beta": [0.7, 0.5]})
    value = loss(torch.cat([LOGITS, LOGITS]), torch.cat([TARGETS, TARGETS]))
    assert value.tolist() == pytest.approx([1.0 - 15.0 / 37.0, 1.0 - 3.0 / 7.0], abs=1e-6)


def test_tversky_multiclass_averages_only_the_classes_present_in_the_batch() -> None:
    # alpha = beta = 1/2 gives the soft-F1 per-class scores 6/11 and 8/19; class 2 (absent) is
    # left out of the mean, so the divisor is 2 (soft_f1 divides by 3).
    loss = build("tversky", Task.MULTICLASS, {"alpha": [0.5], "beta": [0.5]})
    value = loss(MC_LOGITS, MC_TARGETS)
    assert value.item() == pytest.approx(1.0 - (6.0 / 11.0 + 8.0 / 19.0) / 2.0, abs=1e-6)


def test_tversky_of_a_batch_without_positives_is_one_with_no_gradient() -> None:
    outputs = torch.tensor([[0.3, -2.0]], requires_grad=True)
    loss = build("tversky", Task.BINARY, {"alpha": [0.3], "beta": [0.7]})
    value = loss(outputs, torch.zeros(1, 2))
    assert value.item() == 1.0
    value.sum().backward()
    assert outputs.grad is not None
    assert torch.count_nonzero(outputs.grad) == 0


def test_focal_tversky_raises_one_minus_the_index_to_one_over_gamma() -> None:
    # gamma 2: (22/37) ** (1/2); gamma 1 is the Tversky loss.
    params = {"alpha": [0.3, 0.3], "beta": [0.7, 0.7], "gamma": [2.0, 1.0]}
    value = build("focal_tversky", Task.BINARY, params)(
        torch.cat([LOGITS, LOGITS]), torch.cat([TARGETS, TARGETS])
    )
    assert value.tolist() == pytest.approx([(22.0 / 37.0) ** 0.5, 22.0 / 37.0], abs=1e-6)


def test_focal_tversky_gradient_is_finite_at_a_perfect_score() -> None:
    outputs = torch.tensor([[60.0, -60.0]], requires_grad=True)
    params = {"alpha": [0.3], "beta": [0.7], "gamma": [3.0]}
    value = build("focal_tversky", Task.BINARY, params)(outputs, t([[1.0, 0.0]]))
    value.sum().backward()
    assert value.item() == pytest.approx(1e-8 ** (1.0 / 3.0))
    assert outputs.grad is not None
    assert torch.isfinite(outputs.grad).all()


def test_lovasz_hinge_follows_algorithm_one_of_berman_et_al() -> None:
    # u = (2, 0.5, -1, 0), y = (1, 0, 1, 0): hinge errors (0, 1.5, 2, 1). Sorted: 2 (pos),
    # 1.5 (neg), 1 (neg), 0 (pos). Jaccard losses along the order: 1/2, 2/3, 3/4, 1; weights
    # 1/2, 1/6, 1/12, 1/4; loss 1 + 1/4 + 1/12 = 4/3.
    loss = build("lovasz_hinge", Task.BINARY)
    value = loss(t([[2.0, 0.5, -1.0, 0.0]]), t([[1.0, 0.0, 1.0, 0.0]]))
    assert value.item() == pytest.approx(4.0 / 3.0, abs=1e-6)


def test_lovasz_hinge_at_unit_logits_is_twice_the_jaccard_loss() -> None:
    # Logits +-1: errors are 0 (right) or 2 (wrong). Predictions (1, 1, 0, 1) against
    # y = (1, 1, 1, 0): IoU 2/4, loss 2 * (1 - 1/2) = 1.
    loss = build("lovasz_hinge", Task.BINARY)
    value = loss(t([[1.0, 1.0, -1.0, 1.0]]), t([[1.0, 1.0, 1.0, 0.0]]))
    assert value.item() == pytest.approx(1.0, abs=1e-6)


def test_lovasz_hinge_multilabel_averages_every_label() -> None:
    # Label 0 is the 4/3 case; label 1 has no positives: only its largest error counts, 1.5.
    loss = build("lovasz_hinge", Task.MULTILABEL, class_counts=[5.0, 5.0])
    outputs = torch.tensor([[[2.0, 0.5], [0.5, -1.0], [-1.0, 0.0], [0.0, -3.0]]])
    targets = torch.tensor([[[1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]])
    assert loss(outputs, targets).item() == pytest.approx((4.0 / 3.0 + 1.5) / 2, abs=1e-6)


def test_lovasz_softmax_averages_the_present_classes() -> None:
    # Rows (1/2, 1/4, 1/4) y=0, (1/3, 1/3, 1/3) y=1, (1/4, 1/2, 1/4) y=0; class 2 absent.
    # Class 0: errors (1/2, 1/3, 3/4), sorted 3/4 (fg), 1/2 (fg), 1/3: weights 1/2, 1/2, 0 -> 5/8.
    # Class 1: errors (1/4, 2/3, 1/2), sorted 2/3 (fg), 1/2, 1/4: weights 1, 0, 0 -> 2/3.
    loss = build("lovasz_softmax", Task.MULTICLASS)
    outputs = torch.tensor([[[LN2, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, LN2, 0.0]]])
    value = loss(outputs, torch.tensor([[0, 1, 0]]))
    assert value.item() == pytest.approx((5.0 / 8.0 + 2.0 / 3.0) / 2, abs=1e-6)
