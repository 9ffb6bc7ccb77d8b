"""Weighted losses: exact values on hand-computed cases and agreement with torch."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own convention)

from tests.engine.losses.harness import (
    LN2,
    LN3,
    LN4,
    MAX_EPOCHS,
    N_CLASSES,
    build,
    random_batch,
    t,
)
from workers.engine.losses import get_loss
from workers.engine.losses.base import Loss
from workers.engine.spec import Task


def test_class_weights_are_inverse_count_powers_normalised_to_mean_one() -> None:
    # counts (3, 1), power 1: raw (1/3, 1); mean over examples (3*1/3 + 1*1)/4 = 1/2.
    loss = build("class_weighted_ce", Task.BINARY, {"power": [1.0, 0.0]}, class_counts=[3.0, 1.0])
    weights = loss.get_buffer("weights")
    assert weights.tolist()[0] == pytest.approx([2.0 / 3.0, 2.0])
    assert weights.tolist()[1] == pytest.approx([1.0, 1.0])


def test_class_weighted_cross_entropy_is_the_mean_of_weighted_cross_entropies() -> None:
    # Example 1: y=1, CE ln 2, weight 2. Example 2: y=0, CE ln 4, weight 2/3.
    # power 1: (2 ln2 + 2/3 ln4) / 2 = 5/3 ln 2; power 0: plain mean 1.5 ln 2.
    loss = build("class_weighted_ce", Task.BINARY, {"power": [1.0, 0.0]}, class_counts=[3.0, 1.0])
    outputs = t([[0.0, LN3], [0.0, LN3]])
    value = loss(outputs, t([[1.0, 0.0], [1.0, 0.0]]))
    assert value.tolist() == pytest.approx([5.0 / 3.0 * LN2, 1.5 * LN2], rel=1e-6)


@pytest.mark.parametrize("name", ["class_weighted_ce", "class_balanced"])
def test_balanced_weights_give_a_rare_class_half_the_expected_gradient(name: str) -> None:
    # 3.4% positives, weights at full strength (power 1; beta near 1 for the effective number):
    # over random batches each class should drive half of the gradient. Dividing each batch by
    # its own summed weights gave the positives 0.38.
    counts = [966.0, 34.0]
    strength = {"power": [1.0]} if name == "class_weighted_ce" else {"one_minus_beta": [1e-6]}
    loss = build(name, Task.BINARY, strength, class_counts=counts)
    generator = torch.Generator().manual_seed(0)
    labels = torch.cat([torch.zeros(966), torch.ones(34)])
    positive, total = 0.0, 0.0
    for _ in range(400):
        targets = labels[torch.randint(0, 1000, (32,), generator=generator)].unsqueeze(0)
        outputs = torch.zeros(1, 32, requires_grad=True)  # every example has the same loss
        loss(outputs, targets).sum().backward()
        assert outputs.grad is not None
        pull = outputs.grad.abs()[0]
        positive += float(pull[targets[0] == 1].sum())
        total += float(pull.sum())
    assert positive / total == pytest.approx(0.5, abs=0.03)


def test_focal_binary_weights_by_alpha_t_and_one_minus_p_t_to_the_gamma() -> None:
    # gamma 2, alpha 1/4. Example 1: y=1, p_t=1/2, alpha_t=1/4: (1/4)(1/4) ln 2.
    # Example 2: y=0, p=3/4 so p_t=1/4, alpha_t=3/4: (3/4)(9/16) ln 4. Mean: 29/64 ln 2.
    loss = build("focal", Task.BINARY, {"gamma": [2.0], "alpha": [0.25]})
    value = loss(t([[0.0, LN3]]), t([[1.0, 0.0]]))
    assert value.item() == pytest.approx(29.0 / 64.0 * LN2, rel=1e-6)


def test_focal_multiclass_uses_softmax_p_t_and_no_alpha() -> None:
    # softmax(ln 2, 0, 0) = (1/2, 1/4, 1/4). Target 0: (1/2)^2 ln 2. Target 1: (3/4)^2 ln 4.
    loss = build("focal", Task.MULTICLASS, {"gamma": [2.0]}, class_counts=[10.0, 10.0, 10.0])
    outputs = torch.tensor([[[LN2, 0.0, 0.0], [LN2, 0.0, 0.0]]])
    value = loss(outputs, torch.tensor([[0, 1]]))
    assert value.item() == pytest.approx((0.25 * LN2 + 9.0 / 16.0 * LN4) / 2, rel=1e-6)


@pytest.mark.parametrize("gamma", [0.0, 0.3, 5.0])
def test_focal_gradient_is_finite_for_confident_correct_predictions(gamma: float) -> None:
    # (1 - p_t)^gamma with gamma < 1 has an infinite slope at p_t = 1 if computed naively.
    for task, outputs, targets in [
        (Task.BINARY, torch.tensor([[60.0, -60.0]]), torch.tensor([[1.0, 0.0]])),
        (Task.MULTICLASS, torch.tensor([[[60.0, -60.0, -60.0]]]), torch.tensor([[0]])),
    ]:
        params = {"gamma": [gamma], "alpha": [0.25]} if task is Task.BINARY else {"gamma": [gamma]}
        loss = build("focal", task, params)
        outputs.requires_grad_(True)
        loss(outputs, targets).sum().backward()
        assert outputs.grad is not None
        assert torch.isfinite(outputs.grad).all()


def test_class_weighted_ce_matches_torch_weighted_cross_entropy_multiclass() -> None:
    counts = [50.0, 7.0, 20.0]
    powers = [0.0, 0.5, 1.0]
    loss = build(
        "class_weighted_ce",
        Task.MULTICLASS,
        {"power": powers},
        class_counts=counts,
    )
    outputs, targets = random_batch(Task.MULTICLASS, n_members=3, batch=40, seed=5)
    value = loss(outputs, targets)
    for m, power in enumerate(powers):
        # King & Zeng / Cui et al.: mean of w_y * CE, with w ∝ n^-power scaled to average 1
        # over the training examples.
        n = torch.tensor(counts)
        weight = n.pow(-power) / ((n.pow(-power) * n).sum() / n.sum())
        per_example = F.cross_entropy(outputs[m], targets[m], reduction="none")
        reference = (weight[targets[m]] * per_example).mean()
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


def test_class_weighted_ce_binary_is_the_mean_of_weighted_bce() -> None:
    counts, power = [40.0, 10.0], 0.7
    loss = build("class_weighted_ce", Task.BINARY, {"power": [power]}, class_counts=counts)
    outputs, targets = random_batch(Task.BINARY, n_members=1, batch=30, seed=6)
    value = loss(outputs, targets)
    n = torch.tensor(counts)
    weight = (n.pow(-power) / ((n.pow(-power) * n).sum() / n.sum()))[targets[0].long()]
    per_example = F.binary_cross_entropy_with_logits(outputs[0], targets[0], reduction="none")
    reference = (weight * per_example).mean()
    assert value.item() == pytest.approx(reference.item(), rel=1e-5)


def test_focal_binary_matches_the_torchvision_sigmoid_focal_loss_formula() -> None:
    gammas, alphas = [0.5, 2.0, 5.0], [0.25, 0.6, 0.9]
    loss = build("focal", Task.BINARY, {"gamma": gammas, "alpha": alphas})
    outputs, targets = random_batch(Task.BINARY, n_members=3, batch=64, seed=7)
    value = loss(outputs, targets)
    for m, (gamma, alpha) in enumerate(zip(gammas, alphas, strict=True)):
        # torchvision.ops.sigmoid_focal_loss(reduction="mean"), written out.
        p = torch.sigmoid(outputs[m])
        ce = F.binary_cross_entropy_with_logits(outputs[m], targets[m], reduction="none")
        p_t = p * targets[m] + (1 - p) * (1 - targets[m])
        alpha_t = alpha * targets[m] + (1 - alpha) * (1 - targets[m])
        reference = (alpha_t * ce * (1 - p_t) ** gamma).mean()
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


def test_degenerate_parameters_reduce_to_cross_entropy() -> None:
    """focal with gamma 0 (and alpha 1/2, halved), power 0 and lam 1 are all plain CE."""
    for task in (Task.BINARY, Task.MULTICLASS):
        outputs, targets = random_batch(task, n_members=2, batch=16, seed=8)
        plain = build("cross_entropy", task)(outputs, targets)
        focal_params = {"gamma": [0.0, 0.0]}
        scale = 1.0
        if task is Task.BINARY:
            focal_params["alpha"] = [0.5, 0.5]
            scale = 0.5
        focal = build("focal", task, focal_params)(outputs, targets)
        weighted = build("class_weighted_ce", task, {"power": [0.0, 0.0]})
        mixed = build("mixed_soft_f1", task, {"lam": [0.95, 0.95], "warmup": [0.5, 0.5]})
        torch.testing.assert_close(focal, scale * plain)
        torch.testing.assert_close(weighted(outputs, targets), plain)
        torch.testing.assert_close(mixed(outputs, targets), plain)


# Multilabel conventions of the existing losses ---------------------------------------------------

# Multilabel examples below have n_train = 4 and positives (1, 3): label 0 has 3 negatives and
# 1 positive, label 1 has 1 negative and 3 positives.
ML_POSITIVES, ML_N_TRAIN = [1.0, 3.0], 4


def test_class_weighted_ce_multilabel_weights_each_labels_negatives_and_positives() -> None:
    # power 1. Label 0 (3 neg, 1 pos): raw (1/3, 1), mean over examples 1/2 -> (2/3, 2).
    # Label 1 (1 neg, 3 pos): (2, 2/3).
    # Example 1, labels (1, 1), logits (0, 0): CE ln 2 (weight 2) and ln 2 (weight 2/3).
    # Example 2, labels (0, 0), logits (ln 3, 0): CE ln 4 (weight 2/3) and ln 2 (weight 2).
    # Mean over the four decisions: (2 ln2 + 2/3 ln2 + 2/3 * 2 ln2 + 2 ln2) / 4 = 3/2 ln 2.
    loss = build(
        "class_weighted_ce",
        Task.MULTILABEL,
        {"power": [1.0]},
        class_counts=ML_POSITIVES,
        n_train=ML_N_TRAIN,
    )
    assert loss.get_buffer("weights")[0].tolist() == [
        pytest.approx([2.0 / 3.0, 2.0]),
        pytest.approx([2.0, 2.0 / 3.0]),
    ]
    outputs = torch.tensor([[[0.0, 0.0], [LN3, 0.0]]])
    value = loss(outputs, torch.tensor([[[1.0, 1.0], [0.0, 0.0]]]))
    assert value.item() == pytest.approx(1.5 * LN2, rel=1e-6)


def test_focal_multilabel_applies_the_binary_focal_term_to_every_label() -> None:
    # gamma 2, alpha 1/4, mean over four decisions.
    # (y=1, z=0): p_t 1/2, alpha_t 1/4 -> 1/16 ln 2.   (y=0, z=ln 3): p_t 1/4 -> 3/4 * 9/16 ln 4.
    # (y=1, z=ln 3): p_t 3/4 -> 1/4 * 1/16 ln(4/3).    (y=1, z=-ln 3): p_t 1/4 -> 1/4 * 9/16 ln 4.
    loss = build("focal", Task.MULTILABEL, {"gamma": [2.0], "alpha": [0.25]})
    outputs = torch.tensor([[[0.0, LN3], [LN3, -LN3]]])
    value = loss(outputs, torch.tensor([[[1.0, 0.0], [1.0, 1.0]]]))
    expected = (LN2 / 16 + 27 / 64 * LN4 + math.log(4 / 3) / 64 + 9 / 64 * LN4) / 4
    assert value.item() == pytest.approx(expected, rel=1e-6)


# Class-balanced ---------------------------------------------------------------------------------


def test_class_balanced_weights_are_inverse_effective_numbers_normalised_to_mean_one() -> None:
    # beta 0.9, counts (2, 1): effective numbers (1 - 0.81) / 0.1 = 1.9 and 1, raw weights
    # (10/19, 1); mean over the 3 examples 13/19, so (10/13, 19/13).
    loss = build("class_balanced", Task.BINARY, {"one_minus_beta": [0.1]}, class_counts=[2.0, 1.0])
    assert loss.get_buffer("weights")[0].tolist() == pytest.approx([10.0 / 13.0, 19.0 / 13.0])
    # y=1, z=0: ln 2 weighs 19/13; y=0, z=ln 3: ln 4 weighs 10/13. Mean (39/13 ln 2) / 2.
    value = loss(t([[0.0, LN3]]), t([[1.0, 0.0]]))
    assert value.item() == pytest.approx(1.5 * LN2, rel=1e-6)


def test_class_balanced_goes_from_inverse_frequency_to_no_weighting_as_beta_falls() -> None:
    # beta -> 1: effective number -> n (inverse frequency, ratio 3 for counts 300:100; at
    # beta = 0.9999 it is 295.6 / 99.50 = 2.97). beta = 0.9: both saturate at 1/(1-beta) = 10,
    # the ratio being (1 - 0.9^300) / (1 - 0.9^100) = 1 + 3e-5.
    loss = build(
        "class_balanced",
        Task.BINARY,
        {"one_minus_beta": [1e-4, 0.1]},
        class_counts=[300.0, 100.0],
    )
    weights = loss.get_buffer("weights")
    assert (weights[0, 1] / weights[0, 0]).item() == pytest.approx(2.97, abs=0.01)
    assert (weights[1, 1] / weights[1, 0]).item() == pytest.approx(1.0, abs=1e-4)


def test_class_balanced_multilabel_uses_each_labels_negative_and_positive_counts() -> None:
    q = 0.1
    loss = build(
        "class_balanced",
        Task.MULTILABEL,
        {"one_minus_beta": [q]},
        class_counts=ML_POSITIVES,
        n_train=ML_N_TRAIN,
    )
    for label, (negatives, positives) in enumerate([(3, 1), (1, 3)]):
        raw = [q / (1 - (1 - q) ** n) for n in (negatives, positives)]
        mean = (negatives * raw[0] + positives * raw[1]) / (negatives + positives)
        expected = [raw[0] / mean, raw[1] / mean]
        assert loss.get_buffer("weights")[0, label].tolist() == pytest.approx(expected)


def test_class_balanced_is_cui_et_al_mean_of_weighted_cross_entropy_multiclass() -> None:
    counts, qs = [50.0, 7.0, 20.0], [1e-4, 1e-2, 0.1]
    loss = build("class_balanced", Task.MULTICLASS, {"one_minus_beta": qs}, class_counts=counts)
    outputs, targets = random_batch(Task.MULTICLASS, n_members=3, batch=40, seed=20)
    value = loss(outputs, targets)
    n = torch.tensor(counts)
    for m, q in enumerate(qs):
        weight = torch.tensor([q / (1 - (1 - q) ** c) for c in counts])
        weight = weight / ((weight * n).sum() / n.sum())  # mean 1 over the training examples
        per_example = F.cross_entropy(outputs[m], targets[m], reduction="none")
        reference = (weight[targets[m]] * per_example).mean()
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


# Logit adjustment -------------------------------------------------------------------------------


def test_logit_adjusted_multiclass_adds_tau_log_prior_before_softmax() -> None:
    # counts (2, 1, 1): priors (1/2, 1/4, 1/4). Zero logits with tau 1 become log priors, so
    # softmax = priors: target 0 costs ln 2, target 1 ln 4. tau 0 is plain CE: ln 3 each.
    loss = build(
        "logit_adjusted", Task.MULTICLASS, {"tau": [1.0, 0.0]}, class_counts=[2.0, 1.0, 1.0]
    )
    value = loss(torch.zeros(2, 2, 3), torch.tensor([[0, 1], [0, 1]]))
    assert value.tolist() == pytest.approx([(LN2 + LN4) / 2, LN3], rel=1e-6)


def test_logit_adjusted_binary_shifts_the_logit_by_tau_prior_log_odds() -> None:
    # counts (3, 1): log odds ln(1/3). tau 1: z = ln 3 becomes 0, costing ln 2 for either label.
    # tau 2: z = ln 3 becomes -ln 3: y=1 costs ln 4, y=0 costs ln(4/3).
    loss = build("logit_adjusted", Task.BINARY, {"tau": [1.0, 2.0]}, class_counts=[3.0, 1.0])
    value = loss(t([[LN3, LN3], [LN3, LN3]]), t([[1.0, 0.0], [1.0, 0.0]]))
    assert value.tolist() == pytest.approx([LN2, (LN4 + math.log(4 / 3)) / 2], rel=1e-6)


def test_logit_adjusted_multilabel_uses_each_labels_prior_log_odds() -> None:
    # Label 0: 1 of 4 positive, log odds ln(1/3); label 1: 3 of 4, ln 3. tau 1.
    # Logits (ln 3, -ln 3) both become 0: every decision costs ln 2.
    loss = build(
        "logit_adjusted",
        Task.MULTILABEL,
        {"tau": [1.0]},
        class_counts=ML_POSITIVES,
        n_train=ML_N_TRAIN,
    )
    assert loss.get_buffer("shift")[0].tolist() == pytest.approx([-LN3, LN3])
    value = loss(torch.tensor([[[LN3, -LN3]]]), torch.tensor([[[1.0, 0.0]]]))
    assert value.item() == pytest.approx(LN2, rel=1e-6)


def test_logit_adjusted_gives_an_absent_class_a_finite_prior() -> None:
    loss = build("logit_adjusted", Task.MULTICLASS, {"tau": [1.0]}, class_counts=[5.0, 0.0, 3.0])
    assert loss.get_buffer("offsets")[0].tolist() == pytest.approx(
        [math.log(5 / 9), math.log(1 / 9), math.log(3 / 9)]
    )


# LDAM with deferred re-weighting ----------------------------------------------------------------


def unscaled(n_members: int) -> dict[str, list[float]]:
    """Scale 1 and no learning-rate drop, so the worked numbers below are in logit units."""
    return {"scale": [1.0] * n_members, "lr_factor": [1.0] * n_members}


def test_ldam_margins_scale_as_count_to_the_minus_quarter_with_the_rarest_at_max() -> None:
    # counts (81, 1): n^(-1/4) = (1/3, 1), so margins (m/3, m).
    loss = build(
        "ldam_drw",
        Task.BINARY,
        {"max_margin": [3.0, 0.6], "defer": [0.5, 0.5], **unscaled(2)},
        class_counts=[81.0, 1.0],
    )
    assert loss.get_buffer("margins").tolist() == [
        pytest.approx([1.0, 3.0]),
        pytest.approx([0.2, 0.6]),
    ]


def test_ldam_binary_lowers_the_true_class_logit_by_its_margin() -> None:
    # counts (81, 1), max margin 3 ln 2: margins (ln 2, 3 ln 2). z = 0.
    # y = 0: BCE(0 + ln 2, 0) = softplus(ln 2) = ln 3. y = 1: BCE(0 - 3 ln 2, 1) = ln 9.
    loss = build(
        "ldam_drw",
        Task.BINARY,
        {"max_margin": [3 * LN2], "defer": [0.5], **unscaled(1)},
        class_counts=[81.0, 1.0],
    )
    loss.start_epoch(1)
    value = loss(t([[0.0, 0.0]]), t([[0.0, 1.0]]))
    assert value.item() == pytest.approx((LN3 + math.log(9.0)) / 2, rel=1e-6)


def test_ldam_multiclass_lowers_the_true_logit_before_softmax() -> None:
    # counts (16, 1, 1): margins (m/2, m, m) with m = 2 ln 2. Zero logits.
    # Target 0: logits (-ln 2, 0, 0), p = (1/2) / (1/2 + 2) = 1/5, loss ln 5.
    # Target 1: logits (0, -2 ln 2, 0), p = (1/4) / (1/4 + 2) = 1/9, loss ln 9.
    loss = build(
        "ldam_drw",
        Task.MULTICLASS,
        {"max_margin": [2 * LN2], "defer": [0.5], **unscaled(1)},
        class_counts=[16.0, 1.0, 1.0],
    )
    loss.start_epoch(1)
    value = loss(torch.zeros(1, 2, 3), torch.tensor([[0, 1]]))
    assert value.item() == pytest.approx((math.log(5.0) + math.log(9.0)) / 2, rel=1e-6)


def test_ldam_multilabel_margins_are_per_label() -> None:
    # Label 0: 16 negatives, 1 positive -> (m/2, m). Label 1: 1 negative, 16 positives -> (m, m/2).
    loss = build(
        "ldam_drw",
        Task.MULTILABEL,
        {"max_margin": [1.0], "defer": [0.5], **unscaled(1)},
        class_counts=[1.0, 16.0],
        n_train=17,
    )
    assert loss.get_buffer("margins")[0].tolist() == [
        pytest.approx([0.5, 1.0]),
        pytest.approx([1.0, 0.5]),
    ]


def test_ldam_defers_class_balanced_reweighting_until_after_its_fraction_of_epochs() -> None:
    # max_epochs 10. Member 0 defers 0.3 (3 epochs), member 1 0.8 (8 epochs).
    # Same batch as above: y=0 costs ln 3, y=1 ln 9; re-weighted with beta = 0.9999 weights.
    loss = build(
        "ldam_drw",
        Task.BINARY,
        {"max_margin": [3 * LN2, 3 * LN2], "defer": [0.3, 0.8], **unscaled(2)},
        class_counts=[81.0, 1.0],
        max_epochs=10,
    )
    outputs, targets = torch.zeros(2, 2), t([[0.0, 1.0], [0.0, 1.0]])
    q = 1e-4
    w0, w1 = q / (1 - (1 - q) ** 81), 1.0  # (1 - beta) / (1 - beta^n)
    plain = (LN3 + math.log(9.0)) / 2
    weighted = (w0 * LN3 + w1 * math.log(9.0)) / (w0 + w1)
    for epoch, expected in [
        (1, [plain, plain]),
        (3, [plain, plain]),
        (4, [weighted, plain]),
        (8, [weighted, plain]),
        (9, [weighted, weighted]),
    ]:
        loss.start_epoch(epoch)
        assert loss(outputs, targets).tolist() == pytest.approx(expected, rel=1e-6), epoch


def test_ldam_drw_matches_the_reference_formula_after_deferral() -> None:
    # Cao et al.'s code: F.cross_entropy(s * (x - margin one-hot), weight=per-class weights),
    # with the paper's s = 30, max margin 0.5 among the members.
    counts, max_margins, scales = [50.0, 7.0, 20.0], [0.1, 0.5, 1.0], [1.0, 30.0, 5.0]
    loss = build(
        "ldam_drw",
        Task.MULTICLASS,
        {
            "max_margin": max_margins,
            "scale": scales,
            "defer": [0.3, 0.3, 0.3],
            "lr_factor": [0.01] * 3,
        },
        class_counts=counts,
    )
    loss.start_epoch(MAX_EPOCHS)
    outputs, targets = random_batch(Task.MULTICLASS, n_members=3, batch=40, seed=21)
    value = loss(outputs, targets)
    q = 1e-4
    weight = torch.tensor([q / (1 - (1 - q) ** n) for n in counts])
    for m, max_margin in enumerate(max_margins):
        margins = torch.tensor([n**-0.25 for n in counts])
        margins = max_margin * margins / margins.max()
        shifted = outputs[m] - F.one_hot(targets[m], N_CLASSES) * margins
        reference = F.cross_entropy(scales[m] * shifted, targets[m], weight=weight)
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


def test_ldam_binary_scales_the_margin_shifted_logit() -> None:
    # counts (81, 1), max margin ln 2 / 3 -> margins (ln 2 / 9, ln 2 / 3); s = 3, z = 0:
    # y = 0: BCE(3 ln 2 / 9, 0) = softplus(ln 2 / 3); y = 1: BCE(-ln 2, 1) = softplus(ln 2).
    loss = build(
        "ldam_drw",
        Task.BINARY,
        {"max_margin": [LN2 / 3], "scale": [3.0], "defer": [0.5], "lr_factor": [1.0]},
        class_counts=[81.0, 1.0],
    )
    loss.start_epoch(1)
    value = loss(t([[0.0, 0.0]]), t([[0.0, 1.0]]))
    expected = (math.log1p(2 ** (1 / 3)) + LN3) / 2
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_ldam_starts_reweighting_early_when_a_member_stops_improving() -> None:
    # max_epochs 10, defer 0.8: re-weighting would wait until epoch 9. Member 0 stalls at epoch
    # 3 and moves on to the second stage from epoch 4; member 1 keeps the first stage.
    loss = build(
        "ldam_drw",
        Task.BINARY,
        {"max_margin": [3 * LN2] * 2, "defer": [0.8] * 2, **unscaled(2)},
        class_counts=[81.0, 1.0],
        max_epochs=10,
    )
    outputs, targets = torch.zeros(2, 2), t([[0.0, 1.0], [0.0, 1.0]])
    q = 1e-4
    w0 = q / (1 - (1 - q) ** 81)
    plain = (LN3 + math.log(9.0)) / 2
    weighted = (w0 * LN3 + math.log(9.0)) / (w0 + 1.0)
    loss.start_epoch(3)
    assert loss.advance_stage(torch.tensor([0])).tolist() == [True]
    assert loss(outputs, targets).tolist() == pytest.approx([plain, plain])  # not mid-epoch
    loss.start_epoch(4)
    assert loss(outputs, targets).tolist() == pytest.approx([weighted, plain], rel=1e-6)
    # A member already in its second stage has no further stage: it may end.
    assert loss.advance_stage(torch.tensor([0, 1])).tolist() == [False, True]


def test_ldam_drops_the_learning_rate_by_its_factor_in_the_second_stage() -> None:
    loss = build(
        "ldam_drw",
        Task.BINARY,
        {
            "max_margin": [0.5] * 2,
            "scale": [30.0] * 2,
            "defer": [0.3, 0.8],
            "lr_factor": [0.01, 0.1],
        },
        max_epochs=10,
    )
    loss.start_epoch(3)
    assert loss.learning_rate_multipliers(2).tolist() == [1.0, 1.0]
    loss.start_epoch(4)
    assert loss.learning_rate_multipliers(2).tolist() == pytest.approx([0.01, 1.0])
    loss.start_epoch(9)
    assert loss.learning_rate_multipliers(2).tolist() == pytest.approx([0.01, 0.1])


def test_losses_without_stages_neither_advance_nor_change_the_learning_rate() -> None:
    loss = build("focal", Task.BINARY, {"gamma": [2.0, 1.0], "alpha": [0.25, 0.5]})
    assert loss.advance_stage(torch.tensor([0, 1])).tolist() == [False, False]
    assert loss.learning_rate_multipliers(2).tolist() == [1.0, 1.0]


# Poly-1 -----------------------------------------------------------------------------------------


def test_poly1_adds_epsilon_times_one_minus_p_t_to_cross_entropy() -> None:
    # Binary, epsilon 2: (y=1, z=0): ln 2 + 2 * 1/2. (y=0, z=ln 3): p_t = 1/4, ln 4 + 2 * 3/4.
    binary = build("poly1", Task.BINARY, {"epsilon": [2.0]})
    value = binary(t([[0.0, LN3]]), t([[1.0, 0.0]]))
    assert value.item() == pytest.approx((LN2 + 1.0 + LN4 + 1.5) / 2, rel=1e-6)
    # Multiclass, epsilon -1: softmax(ln 2, 0, 0) = (1/2, 1/4, 1/4).
    # Target 0: ln 2 - 1/2. Target 1: ln 4 - 3/4.
    multiclass = build("poly1", Task.MULTICLASS, {"epsilon": [-1.0]})
    outputs = torch.tensor([[[LN2, 0.0, 0.0], [LN2, 0.0, 0.0]]])
    value = multiclass(outputs, torch.tensor([[0, 1]]))
    assert value.item() == pytest.approx((LN2 - 0.5 + LN4 - 0.75) / 2, rel=1e-6)


def test_poly1_multilabel_adds_the_term_to_every_label() -> None:
    # epsilon 1: (y=1, z=0): ln 2 + 1/2; (y=0, z=-ln 3): p = 1/4, p_t = 3/4: ln(4/3) + 1/4.
    loss = build("poly1", Task.MULTILABEL, {"epsilon": [1.0]})
    value = loss(torch.tensor([[[0.0, -LN3]]]), torch.tensor([[[1.0, 0.0]]]))
    assert value.item() == pytest.approx((LN2 + 0.5 + math.log(4 / 3) + 0.25) / 2, rel=1e-6)


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTICLASS, Task.MULTILABEL])
def test_poly1_with_epsilon_zero_and_label_smoothing_zero_are_cross_entropy(task: Task) -> None:
    outputs, targets = random_batch(task, n_members=2, batch=16, seed=22)
    plain = build("cross_entropy", task)(outputs, targets)
    poly = build("poly1", task, {"epsilon": [0.0, 0.0]})(outputs, targets)
    smoothed = build("label_smoothing", task, {"epsilon": [0.0, 0.0]})(outputs, targets)
    torch.testing.assert_close(poly, plain)
    torch.testing.assert_close(smoothed, plain)


# Label smoothing --------------------------------------------------------------------------------


def test_label_smoothing_multiclass_mixes_the_target_with_the_uniform_distribution() -> None:
    # softmax(ln 2, 0, 0) = (1/2, 1/4, 1/4), target 0, epsilon 0.3:
    # 0.7 * ln 2 + 0.3 * mean(ln 2, ln 4, ln 4) = 0.7 ln 2 + 0.3 * 5/3 ln 2 = 1.2 ln 2.
    loss = build("label_smoothing", Task.MULTICLASS, {"epsilon": [0.3]})
    value = loss(torch.tensor([[[LN2, 0.0, 0.0]]]), torch.tensor([[0]]))
    assert value.item() == pytest.approx(1.2 * LN2, rel=1e-6)


def test_label_smoothing_binary_moves_each_target_epsilon_over_two_towards_one_half() -> None:
    # epsilon 0.2: y=1 -> 0.9. z = ln 3, p = 3/4: -(0.9 ln 3/4 + 0.1 ln 1/4).
    # y=0 -> 0.1, z = 0: ln 2.
    loss = build("label_smoothing", Task.BINARY, {"epsilon": [0.2]})
    value = loss(t([[LN3, 0.0]]), t([[1.0, 0.0]]))
    expected = (0.9 * math.log(4 / 3) + 0.1 * LN4 + LN2) / 2
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_label_smoothing_multiclass_equals_torch_cross_entropy_with_label_smoothing() -> None:
    epsilons = [0.0, 0.1, 0.3]
    outputs, targets = random_batch(Task.MULTICLASS, n_members=3, batch=40, seed=23)
    value = build("label_smoothing", Task.MULTICLASS, {"epsilon": epsilons})(outputs, targets)
    for m, epsilon in enumerate(epsilons):
        reference = F.cross_entropy(outputs[m], targets[m], label_smoothing=epsilon)
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-6)


def test_label_smoothing_binary_is_the_two_class_smoothing_on_the_logits_zero_and_z() -> None:
    epsilons = [0.05, 0.3]
    outputs, targets = random_batch(Task.BINARY, n_members=2, batch=40, seed=24)
    value = build("label_smoothing", Task.BINARY, {"epsilon": epsilons})(outputs, targets)
    for m, epsilon in enumerate(epsilons):
        two_logits = torch.stack([torch.zeros_like(outputs[m]), outputs[m]], dim=-1)
        reference = F.cross_entropy(two_logits, targets[m].long(), label_smoothing=epsilon)
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


# Asymmetric loss --------------------------------------------------------------------------------


def test_asymmetric_loss_focuses_positives_and_shifts_negatives() -> None:
    # gamma_pos 1, gamma_neg 2, clip 1/4.
    # Positive, z = 0 (p = 1/2): (1 - p)^1 * ln 2 = ln 2 / 2.
    # Negative, z = 0: p_m = 1/4, cost (1/4)^2 * -ln(3/4) = ln(4/3) / 16.
    # Negative, z = -ln 3 (p = 1/4 <= clip): p_m = 0, cost 0.
    # Negative, z = ln 3 (p = 3/4): p_m = 1/2, cost (1/2)^2 * ln 2.
    loss = build(
        "asymmetric", Task.BINARY, {"gamma_pos": [1.0], "gamma_neg": [2.0], "clip": [0.25]}
    )
    value = loss(t([[0.0, 0.0, -LN3, LN3]]), t([[1.0, 0.0, 0.0, 0.0]]))
    expected = (LN2 / 2 + math.log(4 / 3) / 16 + 0.0 + LN2 / 4) / 4
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_asymmetric_loss_multilabel_is_the_mean_over_every_label() -> None:
    # gamma_pos 0, gamma_neg 1, clip 0: positive z = ln 3 costs ln(4/3); negative z = ln 3
    # (p = 3/4) costs 3/4 * ln 4.
    loss = build(
        "asymmetric", Task.MULTILABEL, {"gamma_pos": [0.0], "gamma_neg": [1.0], "clip": [0.0]}
    )
    value = loss(torch.tensor([[[LN3, LN3]]]), torch.tensor([[[1.0, 0.0]]]))
    assert value.item() == pytest.approx((math.log(4 / 3) + 0.75 * LN4) / 2, rel=1e-6)


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTILABEL])
def test_asymmetric_loss_without_focusing_or_clipping_is_cross_entropy(task: Task) -> None:
    outputs, targets = random_batch(task, n_members=2, batch=16, seed=25)
    params = {"gamma_pos": [0.0, 0.0], "gamma_neg": [0.0, 0.0], "clip": [0.0, 0.0]}
    asymmetric = build("asymmetric", task, params)(outputs, targets)
    torch.testing.assert_close(asymmetric, build("cross_entropy", task)(outputs, targets))


def test_asymmetric_loss_discards_easy_negatives_below_the_clip() -> None:
    # p = sigmoid(z) <= clip for every negative: no loss, no gradient, even with gamma_neg 0.
    loss = build("asymmetric", Task.BINARY, {"gamma_pos": [0.0], "gamma_neg": [0.0], "clip": [0.2]})
    outputs = t([[-2.0, -5.0, -60.0]]).requires_grad_(True)  # p <= 0.12
    value = loss(outputs, torch.zeros(1, 3))
    value.sum().backward()
    assert value.item() == 0.0
    assert outputs.grad is not None
    assert torch.count_nonzero(outputs.grad) == 0


def test_asymmetric_is_offered_for_binary_and_multilabel_only() -> None:
    assert get_loss("asymmetric").tasks == frozenset({Task.BINARY, Task.MULTILABEL})


# MAPE-weighted MAE ------------------------------------------------------------------------------


def mape_weighted_mae() -> Loss:
    """The MAPE-weighted MAE for a target with training mean 3, standard deviation 2, mean |y| 4."""
    return build(
        "mape_weighted_mae", Task.REGRESSION, target_mean=3.0, target_std=2.0, target_scale=4.0
    )


def test_mape_weighted_mae_weighs_residuals_by_target_scale_over_abs_y_with_a_floor() -> None:
    # Standardised targets (0.5, -1, -1.5) are y = (4, 1, 0). Weights 4/4 = 1, 4/1 = 4 and, with
    # |y| floored at 1% of 4, 4/0.04 = 100. Residuals 0.5, 0.25, 0.01: (0.5 + 1 + 1) / 3.
    loss = mape_weighted_mae()
    targets = t([[0.5, -1.0, -1.5]])
    value = loss(targets + t([[0.5, -0.25, 0.01]]), targets)
    assert value.item() == pytest.approx(2.5 / 3, rel=1e-5)


def test_mape_weighted_mae_prefers_the_weighted_median_to_the_median() -> None:
    # y = (1, 2, 4): weights 1/y = (1, 1/2, 1/4); the 1/y-weighted median is 1, the median 2.
    loss = mape_weighted_mae()
    targets = (t([[1.0, 2.0, 4.0]]) - 3.0) / 2.0
    at_weighted_median = loss(torch.full((1, 3), (1.0 - 3.0) / 2.0), targets)
    at_median = loss(torch.full((1, 3), (2.0 - 3.0) / 2.0), targets)
    assert at_weighted_median.item() < at_median.item()


def test_mape_weighted_mae_is_a_weighted_loss_serving_only_mape() -> None:
    spec = get_loss("mape_weighted_mae")
    assert spec.tasks == frozenset({Task.REGRESSION})
    assert spec.serves == frozenset({"mape"})
