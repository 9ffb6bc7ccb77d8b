"""Proxy losses: exact values on hand-computed cases and agreement with torch."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own convention)
from sklearn import metrics as skm
from torch import Tensor

from tests.engine.losses.harness import (
    LN2,
    LN3,
    LN4,
    N_CLASSES,
    build,
    random_batch,
    t,
)
from workers.engine.losses import get_loss
from workers.engine.losses.base import Loss
from workers.engine.losses.catalogue import losses_for
from workers.engine.losses.proxy_robust import tempered_log_softmax
from workers.engine.spec import Family, Task


def test_cross_entropy_binary_is_mean_bce_on_logits() -> None:
    # BCE(0, y=1) = ln 2; sigmoid(ln 3) = 3/4 so BCE(ln 3, y=0) = -ln(1/4) = ln 4.
    loss = build("cross_entropy", Task.BINARY)
    value = loss(t([[0.0, LN3]]), t([[1.0, 0.0]]))
    assert value.shape == (1,)
    assert value.item() == pytest.approx((LN2 + LN4) / 2, rel=1e-6)


def test_cross_entropy_multiclass_is_mean_softmax_cross_entropy() -> None:
    # Row 1: uniform over 3 classes, -ln(1/3). Row 2: softmax(ln 2, 0, 0) = (1/2, 1/4, 1/4),
    # target 1, -ln(1/4).
    loss = build("cross_entropy", Task.MULTICLASS, class_counts=[10.0, 10.0, 10.0])
    outputs = torch.tensor([[[0.0, 0.0, 0.0], [LN2, 0.0, 0.0]]])
    value = loss(outputs, torch.tensor([[0, 1]]))
    assert value.item() == pytest.approx((LN3 + LN4) / 2, rel=1e-6)


def test_brier_binary_and_multilabel_are_scikit_learns_brier_score_of_the_sigmoid() -> None:
    outputs, targets = random_batch(Task.BINARY, n_members=2, batch=50, seed=21)
    value = build("brier", Task.BINARY)(outputs, targets)
    for m in range(2):
        expected = skm.brier_score_loss(targets[m].numpy(), torch.sigmoid(outputs[m]).numpy())
        assert value[m].item() == pytest.approx(expected, rel=1e-5)
    outputs, targets = random_batch(Task.MULTILABEL, n_members=1, batch=50, seed=22)
    value = build("brier", Task.MULTILABEL)(outputs, targets)
    torch.testing.assert_close(value[0], (torch.sigmoid(outputs) - targets).square().mean())


def test_brier_multiclass_sums_over_classes_as_scikit_learn_does_unscaled() -> None:
    outputs, targets = random_batch(Task.MULTICLASS, n_members=1, batch=60, seed=23)
    value = build("brier", Task.MULTICLASS)(outputs, targets)
    probabilities = torch.softmax(outputs[0].double(), dim=-1).numpy()
    expected = skm.brier_score_loss(
        targets[0].numpy(), probabilities, labels=list(range(N_CLASSES)), scale_by_half=False
    )
    assert value[0].item() == pytest.approx(expected, rel=1e-5)


def test_brier_bounds_a_confidently_wrong_row_where_cross_entropy_does_not() -> None:
    outputs, targets = t([[-40.0, 40.0]]), t([[1.0, 0.0]])
    assert build("brier", Task.BINARY)(outputs, targets).item() == pytest.approx(1.0)
    assert build("cross_entropy", Task.BINARY)(outputs, targets).item() == pytest.approx(40.0)


def test_mse_and_mae_are_mean_squared_and_absolute_residuals() -> None:
    outputs, targets = t([[1.0, 2.0, -3.0]]), t([[0.0, 0.0, 0.0]])
    assert build("mse", Task.REGRESSION)(outputs, targets).item() == pytest.approx(14.0 / 3.0)
    assert build("mae", Task.REGRESSION)(outputs, targets).item() == pytest.approx(2.0)


def test_huber_is_quadratic_inside_delta_and_linear_outside_per_member() -> None:
    # Residuals 0.5, 2, -3. delta 1: 0.125, 1*(2-0.5), 1*(3-0.5). delta 2: 0.125, 0.5*4, 2*(3-1).
    loss = build("huber", Task.REGRESSION, {"delta": [1.0, 2.0]})
    outputs = t([[0.5, 2.0, -3.0], [0.5, 2.0, -3.0]])
    value = loss(outputs, torch.zeros(2, 3))
    assert value.tolist() == pytest.approx([(0.125 + 1.5 + 2.5) / 3, (0.125 + 2.0 + 4.0) / 3])


def test_cross_entropy_matches_torch_binary_and_multiclass() -> None:
    outputs, targets = random_batch(Task.BINARY, n_members=3, batch=32, seed=2)
    value = build("cross_entropy", Task.BINARY)(outputs, targets)
    for m in range(3):
        reference = F.binary_cross_entropy_with_logits(outputs[m], targets[m])
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-6)

    outputs, targets = random_batch(Task.MULTICLASS, n_members=3, batch=32, seed=3)
    value = build("cross_entropy", Task.MULTICLASS, class_counts=[10.0] * N_CLASSES)(
        outputs, targets
    )
    for m in range(3):
        assert value[m].item() == pytest.approx(F.cross_entropy(outputs[m], targets[m]).item())


def test_huber_matches_torch_huber_loss_for_each_members_delta() -> None:
    deltas = [0.1, 0.7, 3.0]
    outputs, targets = random_batch(Task.REGRESSION, n_members=3, batch=64, seed=4)
    value = build("huber", Task.REGRESSION, {"delta": deltas})(outputs, targets)
    for m, delta in enumerate(deltas):
        reference = F.huber_loss(outputs[m], targets[m], delta=delta)
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-6)


def test_select_keeps_the_chosen_huber_deltas() -> None:
    loss = build("huber", Task.REGRESSION, {"delta": [0.5, 1.0, 2.0]})
    outputs, targets = random_batch(Task.REGRESSION, n_members=3, batch=20, seed=9)
    full = loss(outputs, targets)
    loss.select(torch.tensor([0, 2]))
    assert loss.get_buffer("delta").tolist() == [0.5, 2.0]
    kept = loss(outputs[[0, 2]], targets[[0, 2]])
    assert kept.tolist() == [full[0].item(), full[2].item()]


def test_cross_entropy_multilabel_is_bce_averaged_over_examples_and_labels() -> None:
    # Example 1: logits (0, ln 3) with labels (1, 0): ln 2 and ln 4.
    # Example 2: logits (-ln 3, 0) with labels (1, 1): -ln(1/4) = ln 4 and ln 2.
    loss = build("cross_entropy", Task.MULTILABEL, class_counts=[30.0, 30.0])
    outputs = torch.tensor([[[0.0, LN3], [-LN3, 0.0]]])
    value = loss(outputs, torch.tensor([[[1.0, 0.0], [1.0, 1.0]]]))
    assert value.item() == pytest.approx((LN2 + LN4 + LN4 + LN2) / 4, rel=1e-6)


# Hinge and squared hinge ------------------------------------------------------------------------


def test_hinge_binary_is_the_mean_of_max_zero_margin_minus_signed_logit() -> None:
    # s = (+1, -1, +1), z = (2, 0.5, -1). margin 1: max(0, 1-2)=0, 1+0.5=1.5, 1+1=2 -> 3.5/3.
    # margin 3: 1, 3.5, 4 -> 8.5/3.
    loss = build("hinge", Task.BINARY, {"margin": [1.0, 3.0]})
    outputs = t([[2.0, 0.5, -1.0], [2.0, 0.5, -1.0]])
    value = loss(outputs, t([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]]))
    assert value.tolist() == pytest.approx([3.5 / 3, 8.5 / 3])


def test_squared_hinge_binary_squares_each_violation() -> None:
    # Same violations as above, margin 1: (0 + 2.25 + 4) / 3.
    loss = build("squared_hinge", Task.BINARY, {"margin": [1.0]})
    value = loss(t([[2.0, 0.5, -1.0]]), t([[1.0, 0.0, 1.0]]))
    assert value.item() == pytest.approx(6.25 / 3)


def test_hinge_multiclass_sums_violations_over_other_classes_divided_by_classes() -> None:
    # logits (2, 1, -1), target 0, margin 1.5: others give max(0, 1.5 - 2 + 1) = 0.5 and
    # max(0, 1.5 - 2 - 1) = 0, so (0.5 + 0) / 3. Target 2: 1.5 + 1 + 2 = 4.5 and 1.5 + 1 + 1 =
    # 3.5, so 8 / 3. Squared: (0.25) / 3 and (20.25 + 12.25) / 3.
    outputs = torch.tensor([[[2.0, 1.0, -1.0], [2.0, 1.0, -1.0]]])
    targets = torch.tensor([[0, 2]])
    hinge = build("hinge", Task.MULTICLASS, {"margin": [1.5]})(outputs, targets)
    squared = build("squared_hinge", Task.MULTICLASS, {"margin": [1.5]})(outputs, targets)
    assert hinge.item() == pytest.approx((0.5 / 3 + 8.0 / 3) / 2)
    assert squared.item() == pytest.approx((0.25 / 3 + 32.5 / 3) / 2)


def test_hinge_multilabel_applies_the_binary_hinge_to_every_label() -> None:
    # labels (1, 0) with logits (0.5, 0.5), margin 1: 0.5 and 1.5; labels (0, 1) with logits
    # (-2, 3): 0 and 0. Mean over four decisions: 2 / 4.
    loss = build("hinge", Task.MULTILABEL, {"margin": [1.0]}, class_counts=[30.0, 30.0])
    outputs = torch.tensor([[[0.5, 0.5], [-2.0, 3.0]]])
    value = loss(outputs, torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]))
    assert value.item() == pytest.approx(0.5)


@pytest.mark.parametrize(("name", "power"), [("hinge", 1), ("squared_hinge", 2)])
def test_multiclass_hinges_match_torch_multi_margin_loss(name: str, power: int) -> None:
    margins = [0.25, 1.0, 4.0]
    outputs, targets = random_batch(Task.MULTICLASS, n_members=3, batch=40, seed=11)
    value = build(name, Task.MULTICLASS, {"margin": margins})(outputs, targets)
    for m, margin in enumerate(margins):
        reference = F.multi_margin_loss(outputs[m], targets[m], p=power, margin=margin)
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-6)


@pytest.mark.parametrize(("name", "power"), [("hinge", 1), ("squared_hinge", 2)])
def test_binary_hinges_are_twice_multi_margin_loss_on_the_logits_zero_and_z(
    name: str, power: int
) -> None:
    # With two classes and logits (0, z), multi_margin_loss is max(0, margin - s z)^p / 2.
    margins = [0.5, 2.0]
    outputs, targets = random_batch(Task.BINARY, n_members=2, batch=30, seed=12)
    value = build(name, Task.BINARY, {"margin": margins})(outputs, targets)
    for m, margin in enumerate(margins):
        two_logits = torch.stack([torch.zeros_like(outputs[m]), outputs[m]], dim=-1)
        reference = 2.0 * F.multi_margin_loss(two_logits, targets[m].long(), p=power, margin=margin)
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-6)


# Square loss on one-hot targets -----------------------------------------------------------------


def test_mse_onehot_binary_regresses_the_logit_on_plus_minus_one() -> None:
    # y = 1, z = 3: (3 - 1)^2 = 4. y = 0, z = 0.5: (0.5 + 1)^2 = 2.25.
    loss = build("mse_onehot", Task.BINARY)
    assert loss(t([[3.0, 0.5]]), t([[1.0, 0.0]])).item() == pytest.approx(6.25 / 2)


def test_mse_onehot_multiclass_averages_over_classes_and_examples() -> None:
    # logits (1, 0.5, -1), target 1: (1 + 0.25 + 1) / 3 = 0.75. Target 0: (0 + 0.25 + 1) / 3.
    loss = build("mse_onehot", Task.MULTICLASS)
    outputs = torch.tensor([[[1.0, 0.5, -1.0], [1.0, 0.5, -1.0]]])
    value = loss(outputs, torch.tensor([[1, 0]]))
    assert value.item() == pytest.approx((2.25 / 3 + 1.25 / 3) / 2)


def test_mse_onehot_multilabel_regresses_every_logit_on_plus_minus_one() -> None:
    # labels (1, 0), logits (1, 1): 0 and 4. labels (0, 0), logits (-1, 0): 0 and 1.
    loss = build("mse_onehot", Task.MULTILABEL, class_counts=[30.0, 30.0])
    outputs = torch.tensor([[[1.0, 1.0], [-1.0, 0.0]]])
    assert loss(outputs, torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])).item() == pytest.approx(5 / 4)


def test_mse_onehot_multiclass_matches_torch_mse_on_one_hot_targets() -> None:
    outputs, targets = random_batch(Task.MULTICLASS, n_members=2, batch=25, seed=13)
    value = build("mse_onehot", Task.MULTICLASS)(outputs, targets)
    for m in range(2):
        reference = F.mse_loss(outputs[m], F.one_hot(targets[m], N_CLASSES).float())
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-6)


def test_margin_and_square_losses_do_not_serve_calibration_metrics() -> None:
    for name in ("hinge", "squared_hinge", "mse_onehot"):
        spec = get_loss(name)
        assert not spec.serves_metric("log_loss")
        assert not spec.serves_metric("brier")
        for metric in ("accuracy", "f1", "macro_f1", "top_k_accuracy", "micro_f1"):
            assert spec.serves_metric(metric), (name, metric)
        # Ranking metrics: see test_the_hinge_is_not_offered_for_ranking_metrics...
        assert spec.serves_metric("roc_auc") == (name != "hinge")


# Regression: log-cosh, pinball, Poisson ---------------------------------------------------------


def test_log_cosh_is_log_of_cosh_of_the_residual() -> None:
    # cosh(ln 2) = (2 + 1/2) / 2 = 5/4; cosh(ln 3) = (3 + 1/3) / 2 = 5/3; cosh(0) = 1.
    loss = build("log_cosh", Task.REGRESSION)
    value = loss(t([[LN2, 0.0, 1.0]]), t([[0.0, LN3, 1.0]]))
    assert value.item() == pytest.approx((math.log(5 / 4) + math.log(5 / 3)) / 3, rel=1e-6)


def test_pseudo_huber_is_delta_squared_times_sqrt_one_plus_scaled_residual_squared_minus_one() -> (
    None
):
    # delta 2: residual 0 -> 0; residual 2 -> 4 (sqrt 2 - 1); residual -4 -> 4 (sqrt 5 - 1).
    # delta 1/2: residual 3/2 -> 1/4 (sqrt 10 - 1).
    loss = build("pseudo_huber", Task.REGRESSION, {"delta": [2.0, 0.5]})
    outputs = torch.tensor([[1.0, 3.0, -3.0], [1.0, 1.5, 0.0]])
    targets = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    value = loss(outputs, targets)
    first = (4 * (math.sqrt(2) - 1) + 4 * (math.sqrt(5) - 1)) / 3
    second = 0.25 * (math.sqrt(10) - 1) / 3
    assert value.tolist() == pytest.approx([first, second], rel=1e-6)


def test_pseudo_huber_is_half_the_square_near_zero_and_delta_times_the_residual_far_out() -> None:
    loss = build("pseudo_huber", Task.REGRESSION, {"delta": [1.0]})
    small = loss(t([[1e-3]]), t([[0.0]])).item()
    assert small == pytest.approx(0.5e-6, rel=1e-3)
    outputs = t([[1e4]]).requires_grad_(True)
    loss(outputs, t([[0.0]])).sum().backward()
    assert outputs.grad is not None
    assert outputs.grad.item() == pytest.approx(1.0, rel=1e-6)  # slope delta: no kink, no blow-up


def test_log_cosh_is_linear_with_unit_slope_for_huge_residuals() -> None:
    # log cosh(r) = |r| - ln 2 + log(1 + e^(-2|r|)); cosh itself overflows beyond |r| ~ 89.
    outputs = t([[1000.0, -1000.0]]).requires_grad_(True)
    value = build("log_cosh", Task.REGRESSION)(outputs, torch.zeros(1, 2))
    assert value.item() == pytest.approx(1000.0 - LN2)
    value.sum().backward()
    assert outputs.grad is not None
    assert outputs.grad[0].tolist() == pytest.approx([0.5, -0.5])  # tanh(+-1000) / batch


def test_pinball_charges_tau_below_and_one_minus_tau_above_the_target() -> None:
    # Residuals target - output = +2 (under-prediction) and -2 (over-prediction).
    # tau 0.25: 0.25 * 2 = 0.5 and 0.75 * 2 = 1.5. tau 0.9: 1.8 and 0.2.
    loss = build("pinball", Task.REGRESSION, {"tau": [0.25, 0.9]})
    outputs = t([[0.0, 2.0], [0.0, 2.0]])
    value = loss(outputs, t([[2.0, 0.0], [2.0, 0.0]]))
    assert value.tolist() == pytest.approx([1.0, 1.0])
    under = loss(t([[0.0], [0.0]]), t([[2.0], [2.0]]))
    assert under.tolist() == pytest.approx([0.5, 1.8])


def test_pinball_at_one_half_is_half_the_absolute_error() -> None:
    outputs, targets = random_batch(Task.REGRESSION, n_members=1, batch=50, seed=14)
    pinball = build("pinball", Task.REGRESSION, {"tau": [0.5]})(outputs, targets)
    mae = build("mae", Task.REGRESSION)(outputs, targets)
    torch.testing.assert_close(pinball, 0.5 * mae)


def poisson_nll() -> Loss:
    """Poisson NLL for a target with training mean 3, standard deviation 2, mean |y| 2."""
    return build("poisson_nll", Task.REGRESSION, target_mean=3.0, target_std=2.0, target_scale=2.0)


def test_poisson_nll_works_on_targets_rebuilt_in_units_of_target_scale() -> None:
    # Standardised 0.5 -> y = 3 + 2 * 0.5 = 4 -> 4 / scale 2 = 2 counts; output ln 2 predicts
    # 2 * scale: loss exp(ln 2) - 2 ln 2. Standardised -1.5 -> y = 0, output 0: exp(0) = 1.
    loss = poisson_nll()
    value = loss(t([[LN2, 0.0]]), t([[0.5, -1.5]]))
    assert value.item() == pytest.approx((2.0 - 2.0 * LN2 + 1.0) / 2, rel=1e-6)


def test_poisson_nll_clips_negative_targets_to_zero() -> None:
    # Standardised -2.5 -> y = -2, clipped to 0: the loss is exp(output) alone.
    loss = poisson_nll()
    assert loss(t([[LN3]]), t([[-2.5]])).item() == pytest.approx(3.0, rel=1e-6)


def test_msle_is_the_msle_metric_of_its_log_link_predictions() -> None:
    mean, std, scale = 40.0, 30.0, 45.0
    generator = torch.Generator().manual_seed(16)
    amounts = torch.distributions.Gamma(2.0, 0.05).sample((2, 40))  # prices, counts...
    targets = (amounts - mean) / std
    outputs = torch.randn(2, 40, generator=generator)
    loss = build("msle", Task.REGRESSION, target_mean=mean, target_std=std, target_scale=scale)
    value = loss(outputs, targets)
    for m in range(2):
        predictions = (torch.exp(outputs[m]) * scale).double().numpy()
        expected = skm.mean_squared_log_error(amounts[m].double().numpy(), predictions)
        assert value[m].item() == pytest.approx(expected, rel=1e-5)


def test_msle_keeps_a_gradient_for_predictions_far_below_the_target() -> None:
    # A clipped negative prediction would have no gradient; the log link never predicts one.
    loss = build("msle", Task.REGRESSION, target_mean=10.0, target_std=5.0, target_scale=10.0)
    outputs = t([[-30.0, 30.0]]).requires_grad_()
    value = loss(outputs, t([[1.0, -2.0]]))  # targets 15 and 0
    (grad,) = torch.autograd.grad(value.sum(), outputs)
    assert torch.isfinite(value).all()
    assert grad[0, 0] < 0.0  # pushed up towards 15
    assert grad[0, 1] > 0.0  # pushed down towards 0


def test_poisson_nll_matches_torch_on_the_rebuilt_targets() -> None:
    mean, std, scale = 5.0, 2.0, 5.5
    generator = torch.Generator().manual_seed(15)
    counts = torch.poisson(torch.full((2, 40), 5.0), generator=generator)
    targets = (counts - mean) / std
    outputs = torch.randn(2, 40, generator=generator)
    loss = build(
        "poisson_nll", Task.REGRESSION, target_mean=mean, target_std=std, target_scale=scale
    )
    value = loss(outputs, targets)
    for m in range(2):
        reference = F.poisson_nll_loss(outputs[m], counts[m] / scale, log_input=True, full=False)
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


def test_poisson_nll_has_a_log_link_and_serves_only_the_poisson_deviance() -> None:
    spec = get_loss("poisson_nll")
    assert spec.link == "log"
    assert spec.serves == frozenset({"poisson_deviance"})
    assert {get_loss(name).link for name in ("mse", "mae", "huber", "log_cosh", "pinball")} == {
        "identity"
    }


def test_log_cosh_matches_log_of_torch_cosh_on_moderate_residuals() -> None:
    outputs, targets = random_batch(Task.REGRESSION, n_members=2, batch=50, seed=16)
    value = build("log_cosh", Task.REGRESSION)(outputs, targets)
    reference = torch.log(torch.cosh((outputs - targets).double())).mean(dim=-1)
    torch.testing.assert_close(value.double(), reference, rtol=1e-6, atol=1e-7)


def _expected_loss_minimiser(per_score: Callable[[Tensor, float], Tensor], eta: float) -> float:
    """The score that minimises eta * l(s, y=1) + (1 - eta) * l(s, y=0), found on a grid."""
    scores = torch.linspace(-3.0, 3.0, 6001)
    expected = eta * per_score(scores, 1.0) + (1.0 - eta) * per_score(scores, -1.0)
    return float(scores[int(torch.argmin(expected))])


def test_the_hinge_is_not_offered_for_ranking_metrics_as_its_minimiser_drops_the_ranking() -> None:
    # The hinge's population minimiser is sign(2 eta - 1): rows with eta 0.6 and 0.9 get the
    # same score, so no ranking survives. The squared hinge's is 2 eta - 1, which keeps it.
    def hinge(s: Tensor, y: float) -> Tensor:
        return torch.clamp(1.0 - y * s, min=0.0)

    def squared_hinge(s: Tensor, y: float) -> Tensor:
        return torch.clamp(1.0 - y * s, min=0.0) ** 2

    assert _expected_loss_minimiser(hinge, 0.6) == pytest.approx(
        _expected_loss_minimiser(hinge, 0.9)
    )
    assert _expected_loss_minimiser(squared_hinge, 0.6) == pytest.approx(0.2, abs=1e-3)
    assert _expected_loss_minimiser(squared_hinge, 0.9) == pytest.approx(0.8, abs=1e-3)
    for metric in ("roc_auc", "pr_auc"):
        offered = {
            spec.name
            for specs in losses_for(Task.BINARY, metric, (Family.PROXY,)).values()
            for spec in specs
        }
        assert "hinge" not in offered
        assert "squared_hinge" in offered
    assert "hinge" in {s.name for s in losses_for(Task.BINARY, "f1", (Family.PROXY,))[Family.PROXY]}


def test_generalized_ce_is_one_minus_p_y_to_the_q_over_q() -> None:
    # Binary logits (0, ln 3) with targets (1, 0): p_y = 1/2 and 1/4. q = 1/2 and q = 1 (MAE).
    loss = build("generalized_ce", Task.BINARY, {"q": [0.5, 1.0]})
    value = loss(t([[0.0, LN3], [0.0, LN3]]), t([[1.0, 0.0], [1.0, 0.0]]))
    half = ((1 - math.sqrt(0.5)) / 0.5 + (1 - math.sqrt(0.25)) / 0.5) / 2
    assert value.tolist() == pytest.approx([half, (0.5 + 0.75) / 2], rel=1e-6)


def test_generalized_ce_tends_to_cross_entropy_as_q_falls() -> None:
    outputs, targets = random_batch(Task.MULTICLASS, n_members=1, batch=32, seed=8)
    nearly_ce = build("generalized_ce", Task.MULTICLASS, {"q": [1e-4]})(outputs, targets)
    ce = F.cross_entropy(outputs[0], targets[0])
    assert nearly_ce.item() == pytest.approx(ce.item(), rel=1e-3)


def test_symmetric_ce_adds_four_times_one_minus_p_y_to_weighted_cross_entropy() -> None:
    # softmax(ln 2, 0, 0) = (1/2, 1/4, 1/4). Target 0: CE ln 2, RCE 4 * 1/2; target 1: CE ln 4,
    # RCE 4 * 3/4. alpha 0.1, beta 1.
    loss = build("symmetric_ce", Task.MULTICLASS, {"alpha": [0.1], "beta": [1.0]})
    outputs = torch.tensor([[[LN2, 0.0, 0.0], [LN2, 0.0, 0.0]]])
    value = loss(outputs, torch.tensor([[0, 1]]))
    expected = (0.1 * LN2 + 2.0 + 0.1 * LN4 + 3.0) / 2
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_a_confidently_wrong_row_costs_robust_losses_a_bounded_amount() -> None:
    # Cross-entropy of a wrong logit of 50 is 50; generalised CE stays below 1/q and the
    # reverse part of symmetric CE below 4, so one mislabelled row cannot dominate a batch.
    outputs, targets = t([[50.0]]), t([[0.0]])
    bounded = build("generalized_ce", Task.BINARY, {"q": [0.7]})(outputs, targets).item()
    assert bounded <= 1 / 0.7 + 1e-6
    symmetric = build("symmetric_ce", Task.BINARY, {"alpha": [0.01], "beta": [1.0]})
    assert symmetric(outputs, targets).item() == pytest.approx(0.01 * 50.0 + 4.0, rel=1e-4)


def _tempered_softmax_by_bisection(logits: np.ndarray, t2: float) -> np.ndarray:
    """Independent float64 reference: p_i = (1 + (t2 - 1)(lam - a_i))^(-1 / (t2 - 1)), lam found
    by bisection on sum_i p_i = 1 (which decreases in lam); t2 > 1."""
    s = t2 - 1.0

    def probabilities(lam: float) -> np.ndarray:
        return (1.0 + s * (lam - logits)) ** (-1.0 / s)

    # At lam = max a the largest term is 1; at max a + (C^s - 1) / s every term is <= 1 / C.
    lo = float(logits.max())
    hi = lo + (len(logits) ** s - 1.0) / s + 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if probabilities(mid).sum() > 1.0 else (lo, mid)
    return probabilities((lo + hi) / 2)


def _bi_tempered_by_definition(logits: np.ndarray, label: int, t1: float, t2: float) -> float:
    """sum_i y_i (log_t1 y_i - log_t1 p_i) - (y_i^(2-t1) - p_i^(2-t1)) / (2-t1), one-hot y."""
    p = _tempered_softmax_by_bisection(logits, t2)
    y = np.zeros_like(p)
    y[label] = 1.0

    def log_t(x: np.ndarray) -> np.ndarray:
        return (x ** (1.0 - t1) - 1.0) / (1.0 - t1)

    terms = y * (log_t(y) - log_t(p)) - (y ** (2.0 - t1) - p ** (2.0 - t1)) / (2.0 - t1)
    return float(terms.sum())


def test_bi_tempered_at_t1_and_t2_one_is_cross_entropy() -> None:
    params = {"t1": [1.0, 1.0], "t2": [1.0, 1.0]}
    outputs, targets = random_batch(Task.MULTICLASS, n_members=2, batch=40, seed=31)
    value = build("bi_tempered", Task.MULTICLASS, params)(outputs, targets)
    for m in range(2):
        ce = F.cross_entropy(outputs[m], targets[m])
        torch.testing.assert_close(value[m], ce, rtol=1e-6, atol=1e-6)
    for task in (Task.BINARY, Task.MULTILABEL):
        outputs, targets = random_batch(task, n_members=2, batch=40, seed=32)
        value = build("bi_tempered", task, params)(outputs, targets)
        for m in range(2):
            bce = F.binary_cross_entropy_with_logits(outputs[m], targets[m])
            torch.testing.assert_close(value[m], bce, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("t2", [1.5, 3.0])
def test_the_tempered_softmax_sums_to_one_and_has_heavier_tails_than_the_softmax(
    t2: float,
) -> None:
    generator = torch.Generator().manual_seed(33)
    logits = torch.randn(64, 10, generator=generator) * 5.0
    logits[0] = torch.tensor([1e4] + [0.0] * 9)  # one class far ahead
    logits[1] = 0.0  # all tied: 1/10 each
    p = tempered_log_softmax(logits, torch.tensor(t2)).exp()
    torch.testing.assert_close(p.sum(dim=-1), torch.ones(64), rtol=0, atol=2e-6)
    torch.testing.assert_close(p[1], torch.full((10,), 0.1))
    assert bool((p > 0).all())
    # The least likely class keeps more mass than under the softmax (as much, when all tie):
    # 1e4 behind the leader it keeps (1 + (t2 - 1) 1e4)^(-1 / (t2 - 1)), not e^(-1e4).
    softmax_min = torch.softmax(logits, dim=-1).min(dim=-1).values
    assert bool((p.min(dim=-1).values >= softmax_min - 1e-6).all())
    far_behind = (1 + (t2 - 1) * 1e4) ** (-1 / (t2 - 1))
    assert p[0, 1:].tolist() == pytest.approx([far_behind] * 9, rel=1e-3)
    torch.testing.assert_close(
        tempered_log_softmax(logits, torch.tensor(1.0)), torch.log_softmax(logits, dim=-1)
    )


def test_bi_tempered_matches_its_definition_with_a_bisected_normaliser() -> None:
    # Multiclass, two members with their own temperatures; a float64 reference from the
    # definition, with the normaliser found by bisection instead of Newton's method.
    generator = torch.Generator().manual_seed(34)
    outputs = torch.randn(2, 12, 4, generator=generator) * 3.0
    targets = torch.randint(0, 4, (2, 12), generator=generator)
    temperatures = [(0.7, 1.8), (0.5, 3.0)]
    params = {"t1": [t1 for t1, _ in temperatures], "t2": [t2 for _, t2 in temperatures]}
    value = build("bi_tempered", Task.MULTICLASS, params)(outputs, targets)
    for m, (t1, t2) in enumerate(temperatures):
        rows = [
            _bi_tempered_by_definition(outputs[m, i].double().numpy(), int(targets[m, i]), t1, t2)
            for i in range(12)
        ]
        assert value[m].item() == pytest.approx(float(np.mean(rows)), rel=1e-5)
    # Binary: logits (0, z). At z = 0 the two classes are tied at 1/2 for any t2, so a decision
    # costs (1 - 2^(t1 - 1)) / (1 - t1) + (2^(t1 - 1) - 1) / (2 - t1).
    t1, t2 = 0.8, 1.2
    binary = build("bi_tempered", Task.BINARY, {"t1": [t1], "t2": [t2]})
    outputs, targets = t([[0.0, 2.0, -3.0]]), t([[1.0, 0.0, 1.0]])
    half = 2.0 ** (t1 - 1.0)
    assert binary(outputs[:, :1], targets[:, :1]).item() == pytest.approx(
        (1.0 - half) / (1.0 - t1) + (half - 1.0) / (2.0 - t1), rel=1e-6
    )
    rows = [
        _bi_tempered_by_definition(np.array([0.0, z]), int(y), t1, t2)
        for z, y in zip(outputs[0].tolist(), targets[0].tolist(), strict=True)
    ]
    assert binary(outputs, targets).item() == pytest.approx(float(np.mean(rows)), rel=1e-5)


def test_bi_tempered_gradient_is_the_papers_closed_form() -> None:
    # d loss / d a_j = (p_j - y_j) p_j^(t2 - t1) - escort_j sum_i (p_i - y_i) p_i^(t2 - t1),
    # escort_j = p_j^t2 / sum_i p_i^t2 (Amid et al. 2019), with p from the bisection reference.
    t1, t2 = 0.6, 2.5
    generator = torch.Generator().manual_seed(35)
    outputs = (torch.randn(1, 8, 5, generator=generator) * 4.0).requires_grad_(True)
    targets = torch.randint(0, 5, (1, 8), generator=generator)
    build("bi_tempered", Task.MULTICLASS, {"t1": [t1], "t2": [t2]})(outputs, targets).backward()
    assert outputs.grad is not None
    for i in range(8):
        p = _tempered_softmax_by_bisection(outputs[0, i].detach().double().numpy(), t2)
        y = np.eye(5)[int(targets[0, i])]
        forget = (p - y) * p ** (t2 - t1)
        escort = p**t2 / (p**t2).sum()
        expected = (forget - escort * forget.sum()) / 8  # the mean over the batch
        np.testing.assert_allclose(outputs.grad[0, i].numpy(), expected, rtol=1e-4, atol=1e-7)


def test_bi_tempered_bounds_a_true_class_logit_of_minus_ten_thousand() -> None:
    # Per decision the loss is -log_t1(p_y) + (sum p_i^(2 - t1) - 1) / (2 - t1) with
    # -log_t1(p_y) = (1 - p_y^(1 - t1)) / (1 - t1) <= 1 / (1 - t1) and sum p_i^(2 - t1) <= 1:
    # at most 1 / (1 - t1), reached as p_y -> 0 with the rest of the mass on one class.
    t1, t2 = 0.8, 1.2
    bound = 1.0 / (1.0 - t1)
    binary = build("bi_tempered", Task.BINARY, {"t1": [t1], "t2": [t2]})
    outputs = t([[-1e4]]).requires_grad_(True)
    value = binary(outputs, t([[1.0]]))
    value.sum().backward()
    assert math.isfinite(value.item())
    assert bound * (1 - 1e-3) <= value.item() <= bound
    assert outputs.grad is not None
    assert math.isfinite(outputs.grad.item())
    assert build("cross_entropy", Task.BINARY)(outputs, t([[1.0]])).item() == pytest.approx(1e4)
    # Multiclass, the mass split between two other classes: sum p_i^(2 - t1) -> 2 (1/2)^(2 - t1).
    multiclass = build("bi_tempered", Task.MULTICLASS, {"t1": [t1], "t2": [t2]})
    logits = torch.tensor([[[0.0, 0.0, -1e4]]], requires_grad=True)
    value = multiclass(logits, torch.tensor([[2]]))
    value.sum().backward()
    split = bound + (2.0 * 0.5 ** (2.0 - t1) - 1.0) / (2.0 - t1)
    assert value.item() == pytest.approx(split, rel=1e-3)
    assert value.item() <= bound
    assert logits.grad is not None
    assert bool(torch.isfinite(logits.grad).all())
