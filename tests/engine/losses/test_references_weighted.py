"""Proxy and weighted losses against maintained implementations in other packages.

torchvision, kornia and segmentation-models-pytorch for focal loss; timm for Poly-1, label
smoothing, the asymmetric loss and class-balanced weights; libauc and scikit-learn for hinge
losses; scikit-learn and torchmetrics for the regression losses. Each comparison states how our
convention maps onto the package's: the reductions differ (sum versus mean, per label versus
over all decisions) more often than the formulas do.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own convention)
from sklearn.metrics import (
    hinge_loss,
    mean_absolute_percentage_error,
    mean_pinball_loss,
    mean_poisson_deviance,
)

from tests.engine.losses.harness import build, random_batch
from tests.engine.losses.references import (
    kornia_losses,
    libauc_losses,
    smp_losses,
    timm_losses,
    torchmetrics_functional,
    torchvision_ops,
)
from workers.engine.spec import Task


def libauc_surrogates() -> Any:
    """``libauc.losses.surrogate``: the elementwise hinge and squared hinge."""
    libauc_losses()
    return importlib.import_module("libauc.losses.surrogate")


GAMMAS, ALPHAS = [0.0, 0.5, 2.0, 5.0], [0.05, 0.25, 0.6, 0.95]


# Focal loss -------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTILABEL])
def test_focal_matches_torchvision_sigmoid_focal_loss(task: Task) -> None:
    # Binary, and multilabel with every (example, label) as one decision: reduction="mean".
    outputs, targets = random_batch(task, n_members=4, batch=48, seed=30)
    value = build("focal", task, {"gamma": GAMMAS, "alpha": ALPHAS})(outputs, targets)
    sigmoid_focal_loss = torchvision_ops().sigmoid_focal_loss
    for m, (gamma, alpha) in enumerate(zip(GAMMAS, ALPHAS, strict=True)):
        reference = sigmoid_focal_loss(
            outputs[m], targets[m], alpha=alpha, gamma=gamma, reduction="mean"
        )
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTILABEL])
def test_focal_matches_kornia_binary_focal_loss_with_logits(task: Task) -> None:
    # kornia wants (B, C, ...): binary logits get a channel axis; "mean" is over all elements.
    outputs, targets = random_batch(task, n_members=4, batch=48, seed=31)
    value = build("focal", task, {"gamma": GAMMAS, "alpha": ALPHAS})(outputs, targets)
    for m, (gamma, alpha) in enumerate(zip(GAMMAS, ALPHAS, strict=True)):
        logits, labels = outputs[m], targets[m]
        if task is Task.BINARY:
            logits, labels = logits.unsqueeze(-1), labels.unsqueeze(-1)
        reference = kornia_losses().binary_focal_loss_with_logits(
            logits, labels, alpha=alpha, gamma=gamma, reduction="mean"
        )
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


def test_focal_multiclass_matches_kornia_focal_loss_without_alpha() -> None:
    # kornia's "mean" divides by B * C (its (B, C) map is zero off the target), so use the sum.
    outputs, targets = random_batch(Task.MULTICLASS, n_members=4, batch=48, seed=32)
    value = build("focal", Task.MULTICLASS, {"gamma": GAMMAS})(outputs, targets)
    for m, gamma in enumerate(GAMMAS):
        total = kornia_losses().focal_loss(
            outputs[m], targets[m], alpha=None, gamma=gamma, reduction="sum"
        )
        assert value[m].item() == pytest.approx(total.item() / outputs.shape[1], rel=1e-5)


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTILABEL])
def test_focal_matches_smp_focal_loss(task: Task) -> None:
    # smp's multilabel mode averages the per-label means: with equal batch sizes per label, our
    # mean over every decision.
    outputs, targets = random_batch(task, n_members=4, batch=48, seed=33)
    value = build("focal", task, {"gamma": GAMMAS, "alpha": ALPHAS})(outputs, targets)
    for m, (gamma, alpha) in enumerate(zip(GAMMAS, ALPHAS, strict=True)):
        focal = smp_losses().FocalLoss(task.value, alpha=alpha, gamma=gamma)
        reference = focal(outputs[m], targets[m])
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


# Asymmetric loss, Poly-1, label smoothing, class-balanced weights (timm) -----------------------


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTILABEL])
def test_asymmetric_matches_timm_asymmetric_loss_with_mean_reduction(task: Task) -> None:
    settings = [(0.0, 4.0, 0.05), (1.0, 4.0, 0.0), (0.5, 0.0, 0.2), (0.0, 6.0, 0.1)]
    params = {
        "gamma_pos": [s[0] for s in settings],
        "gamma_neg": [s[1] for s in settings],
        "clip": [s[2] for s in settings],
    }
    outputs, targets = random_batch(task, n_members=4, batch=48, seed=34)
    value = build("asymmetric", task, params)(outputs, targets)
    for m, (gamma_pos, gamma_neg, clip) in enumerate(settings):
        asl = timm_losses().AsymmetricLossMultiLabel(
            gamma_neg=gamma_neg, gamma_pos=gamma_pos, clip=clip, eps=1e-12, reduction="mean"
        )
        logits, labels = outputs[m], targets[m]
        if task is Task.BINARY:
            logits, labels = logits.unsqueeze(-1), labels.unsqueeze(-1)
        assert value[m].item() == pytest.approx(asl(logits, labels).item(), rel=1e-5)


def test_poly1_multiclass_matches_timm_poly_cross_entropy() -> None:
    epsilons = [-1.0, 0.0, 2.0, 5.0]
    outputs, targets = random_batch(Task.MULTICLASS, n_members=4, batch=48, seed=35)
    value = build("poly1", Task.MULTICLASS, {"epsilon": epsilons})(outputs, targets)
    for m, epsilon in enumerate(epsilons):
        reference = timm_losses().PolyCrossEntropy(epsilon=epsilon)(outputs[m], targets[m])
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTILABEL])
def test_poly1_sigmoid_matches_timm_poly_binary_cross_entropy(task: Task) -> None:
    epsilons = [-1.0, 0.0, 2.0, 5.0]
    outputs, targets = random_batch(task, n_members=4, batch=48, seed=36)
    value = build("poly1", task, {"epsilon": epsilons})(outputs, targets)
    for m, epsilon in enumerate(epsilons):
        poly = timm_losses().PolyBinaryCrossEntropy(epsilon=epsilon, reduction="mean")
        assert value[m].item() == pytest.approx(poly(outputs[m], targets[m]).item(), rel=1e-5)


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTILABEL])
def test_label_smoothing_sigmoid_matches_timm_binary_cross_entropy_on_dense_targets(
    task: Task,
) -> None:
    # timm moves dense targets towards 1/2: y (1 - s) + s / 2, as we do.
    epsilons = [0.0, 0.1, 0.3]
    outputs, targets = random_batch(task, n_members=3, batch=48, seed=37)
    value = build("label_smoothing", task, {"epsilon": epsilons})(outputs, targets)
    for m, epsilon in enumerate(epsilons):
        bce = timm_losses().BinaryCrossEntropy(smoothing=epsilon, smooth_dense=True)
        assert value[m].item() == pytest.approx(bce(outputs[m], targets[m]).item(), rel=1e-5)


def test_label_smoothing_multiclass_matches_timm_label_smoothing_cross_entropy() -> None:
    epsilons = [0.05, 0.1, 0.3]
    outputs, targets = random_batch(Task.MULTICLASS, n_members=3, batch=48, seed=38)
    value = build("label_smoothing", Task.MULTICLASS, {"epsilon": epsilons})(outputs, targets)
    for m, epsilon in enumerate(epsilons):
        smoothed = timm_losses().LabelSmoothingCrossEntropy(smoothing=epsilon)
        assert value[m].item() == pytest.approx(smoothed(outputs[m], targets[m]).item(), rel=1e-5)


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTICLASS])
def test_class_balanced_matches_timm_effective_number_weights(task: Task) -> None:
    # timm normalises the weights to mean 1 over classes, we over examples (so the loss keeps
    # cross-entropy's scale): the reference rescales timm's weights, then takes Cui et al.'s
    # mean of w * l. Binary as two classes on the logits (0, z).
    counts = [40.0, 20.0] if task is Task.BINARY else [30.0, 20.0, 10.0]
    betas = [0.9, 0.99, 0.9999]
    params = {"one_minus_beta": [1.0 - b for b in betas]}
    outputs, targets = random_batch(task, n_members=3, batch=48, seed=39)
    value = build("class_balanced", task, params)(outputs, targets)
    for m, beta in enumerate(betas):
        _, weight = timm_losses().compute_class_weights(
            counts, int(sum(counts)), method="effective_num", beta=beta
        )
        logits = outputs[m]
        if task is Task.BINARY:
            logits = torch.stack([torch.zeros_like(logits), logits], dim=-1)
        n = torch.tensor(counts)
        weight = weight.float() / ((weight.float() * n).sum() / n.sum())
        labels = targets[m].long()
        per_example = F.cross_entropy(logits, labels, reduction="none")
        reference = (weight[labels] * per_example).mean()
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


# Hinge losses (libauc, scikit-learn) ------------------------------------------------------------


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTILABEL])
@pytest.mark.parametrize(
    ("name", "reference_name"), [("hinge", "hinge_loss"), ("squared_hinge", "squared_hinge_loss")]
)
def test_sigmoid_task_hinges_match_libauc_elementwise_hinges(
    task: Task, name: str, reference_name: str
) -> None:
    # libauc's hinge_loss(margin, t) = max(margin - t, 0) on t = s z, per decision.
    margins = [0.25, 1.0, 4.0]
    outputs, targets = random_batch(task, n_members=3, batch=48, seed=40)
    value = build(name, task, {"margin": margins})(outputs, targets)
    elementwise = getattr(libauc_surrogates(), reference_name)
    for m, margin in enumerate(margins):
        reference = elementwise(margin, (2.0 * targets[m] - 1.0) * outputs[m]).mean()
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


def test_binary_hinge_with_unit_margin_matches_sklearn_hinge_loss() -> None:
    outputs, targets = random_batch(Task.BINARY, n_members=1, batch=64, seed=41)
    value = build("hinge", Task.BINARY, {"margin": [1.0]})(outputs, targets)
    reference = hinge_loss(targets[0].numpy().astype(int), outputs[0].numpy())
    assert value.item() == pytest.approx(reference, rel=1e-5)


# Regression (scikit-learn, torchmetrics) --------------------------------------------------------


def test_pinball_matches_sklearn_mean_pinball_loss() -> None:
    taus = [0.05, 0.5, 0.95]
    outputs, targets = random_batch(Task.REGRESSION, n_members=3, batch=64, seed=42)
    value = build("pinball", Task.REGRESSION, {"tau": taus})(outputs, targets)
    for m, tau in enumerate(taus):
        reference = mean_pinball_loss(targets[m].numpy(), outputs[m].numpy(), alpha=tau)
        assert value[m].item() == pytest.approx(reference, rel=1e-5)


def test_log_cosh_matches_torchmetrics_log_cosh_error() -> None:
    outputs, targets = random_batch(Task.REGRESSION, n_members=2, batch=64, seed=43)
    value = build("log_cosh", Task.REGRESSION)(outputs, targets)
    for m in range(2):
        reference = torchmetrics_functional().log_cosh_error(outputs[m], targets[m])
        assert value[m].item() == pytest.approx(reference.item(), rel=1e-5)


def test_mape_weighted_mae_is_mape_times_target_scale_over_target_std() -> None:
    # With every |y| above the floor, mean(target_scale / |y| * |output - target|)
    # = target_scale / target_std * MAPE(y, y_hat) in the target's units.
    mean, std, scale = 10.0, 3.0, 10.2
    generator = torch.Generator().manual_seed(44)
    y = 10.0 + 3.0 * torch.randn(2, 64, generator=generator).clamp(-2.5, 2.5)
    y_hat = y + torch.randn(2, 64, generator=generator)
    loss = build(
        "mape_weighted_mae", Task.REGRESSION, target_mean=mean, target_std=std, target_scale=scale
    )
    value = loss((y_hat - mean) / std, (y - mean) / std)
    for m in range(2):
        mape = mean_absolute_percentage_error(y[m].double().numpy(), y_hat[m].double().numpy())
        assert value[m].item() == pytest.approx(scale / std * mape, rel=1e-4)


def test_poisson_nll_differs_from_sklearn_poisson_deviance_by_a_constant() -> None:
    # In units of target_scale: deviance(y, mu) = 2 mean(y log(y / mu) - y + mu)
    # = 2 (our loss + mean(y log y - y)), with 0 log 0 = 0.
    mean, std, scale = 4.0, 2.0, 4.0
    generator = torch.Generator().manual_seed(45)
    counts = torch.poisson(torch.full((2, 64), 4.0), generator=generator)
    outputs = 0.3 * torch.randn(2, 64, generator=generator)
    loss = build(
        "poisson_nll", Task.REGRESSION, target_mean=mean, target_std=std, target_scale=scale
    )
    value = loss(outputs, (counts - mean) / std)
    for m in range(2):
        y = counts[m].double().numpy() / scale
        constant = float(np.mean(np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0) - y))
        deviance = mean_poisson_deviance(y, np.exp(outputs[m].double().numpy()))
        assert 2.0 * (value[m].item() + constant) == pytest.approx(deviance, rel=1e-5)
