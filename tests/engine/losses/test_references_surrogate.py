"""Surrogate losses against maintained implementations, on random batches.

Each comparison states the convention under which the two agree exactly: the reference is
called on the member's batch laid out as one "image" (batch axis as the spatial axis), with
the same activation, smoothing and class averaging. Where no package implements our loss, the
comparison is in the limit where the loss becomes the metric (hard predictions, zero
temperature), against torchmetrics' metric.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import Tensor

from tests.engine.losses.harness import N_CLASSES, build, random_batch
from tests.engine.losses.references import (
    kornia_losses,
    libauc_losses,
    smp_losses,
    torchmetrics_functional,
)
from workers.engine.losses.base import Loss
from workers.engine.spec import Task

BATCH, MEMBERS = 32, 3
HARD = 60.0  # logits of this size give probabilities of exactly 0 and 1 in float32


def compare(
    loss: Loss,
    reference: Callable[[Tensor, Tensor], Tensor],
    task: Task,
    *,
    seed: int = 0,
    gradients: bool = True,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    """Loss and reference agree member by member, in value and in gradient."""
    outputs, targets = random_batch(task, MEMBERS, BATCH, seed=seed)
    ours = outputs.clone().requires_grad_(True)
    values = loss(ours, targets)
    values.sum().backward()
    assert ours.grad is not None
    for m in range(MEMBERS):
        theirs = outputs[m].clone().requires_grad_(True)
        expected = reference(theirs, targets[m])
        torch.testing.assert_close(values[m], expected.to(values.dtype), rtol=rtol, atol=atol)
        if gradients:
            expected.backward()  # type: ignore[no-untyped-call]
            assert theirs.grad is not None
            torch.testing.assert_close(ours.grad[m], theirs.grad, rtol=1e-4, atol=1e-6)


def as_image(x: Tensor) -> Tensor:
    """(B,) or (B, C) -> one image (1, 1, B, 1) or (1, C, B, 1)."""
    return x.reshape(1, 1, -1, 1) if x.dim() == 1 else x.T.reshape(1, x.shape[1], -1, 1)


def hard_logits(labels: Tensor, n_classes: int) -> Tensor:
    """Multiclass logits whose softmax is exactly the one-hot of ``labels``."""
    return torch.nn.functional.one_hot(labels, n_classes).float() * HARD


# --- F-scores: torchmetrics on hard predictions -------------------------------------------------


@pytest.mark.parametrize("beta", [1.0, 2.0, 0.5])
def test_soft_f1_at_hard_predictions_is_torchmetrics_fbeta_binary(beta: float) -> None:
    tmf = torchmetrics_functional()
    _, targets = random_batch(Task.BINARY, MEMBERS, BATCH, seed=3)
    predictions = torch.rand(MEMBERS, BATCH, generator=torch.Generator().manual_seed(4)) > 0.5
    logits = (predictions.float() * 2 - 1) * HARD
    loss = build("soft_f1", Task.BINARY, metric="fbeta", metric_params={"beta": beta})
    values = loss(logits, targets)
    for m in range(MEMBERS):
        score = tmf.fbeta_score(predictions[m].long(), targets[m].long(), task="binary", beta=beta)
        assert values[m].item() == pytest.approx(1.0 - score.item(), abs=1e-6)


def test_soft_f1_at_hard_predictions_is_torchmetrics_macro_f1() -> None:
    tmf = torchmetrics_functional()
    generator = torch.Generator().manual_seed(5)
    labels = torch.randint(0, N_CLASSES, (MEMBERS, BATCH), generator=generator)
    guesses = torch.randint(0, N_CLASSES, (MEMBERS, BATCH), generator=generator)
    values = build("soft_f1", Task.MULTICLASS)(hard_logits(guesses, N_CLASSES), labels)
    for m in range(MEMBERS):
        score = tmf.f1_score(
            guesses[m], labels[m], task="multiclass", num_classes=N_CLASSES, average="macro"
        )
        assert values[m].item() == pytest.approx(1.0 - score.item(), abs=1e-6)


def test_a_steep_sigmoid_f1_is_torchmetrics_macro_f1_thresholded_at_minus_offset() -> None:
    # No package ships sigmoidF1; at a steep slope it is the hard F1 of u + offset > 0.
    tmf = torchmetrics_functional()
    outputs, targets = random_batch(Task.MULTILABEL, MEMBERS, BATCH, seed=11)
    offset = 0.5
    assert (outputs + offset).abs().min().item() > 1e-3  # sigmoid(1e5 * 1e-3) is exactly 1
    params = {"slope": [1e5] * MEMBERS, "offset": [offset] * MEMBERS}
    values = build("sigmoid_f1", Task.MULTILABEL, params)(outputs, targets)
    for m in range(MEMBERS):
        predictions = (outputs[m] + offset > 0).long()
        score = tmf.f1_score(
            predictions, targets[m].long(), task="multilabel", num_labels=3, average="macro"
        )
        assert values[m].item() == pytest.approx(1.0 - score.item(), abs=1e-6)


# --- MCC: segmentation_models_pytorch.losses.MCCLoss (eps 1e-5 on each count) -------------------


def test_soft_mcc_binary_is_smp_mcc_loss_on_sigmoid_probabilities() -> None:
    mcc = smp_losses().MCCLoss(eps=1e-5)
    compare(
        build("soft_mcc", Task.BINARY),
        lambda u, y: mcc(torch.sigmoid(u), y),
        Task.BINARY,
    )


def test_soft_mcc_multilabel_is_the_mean_of_smp_mcc_loss_per_label() -> None:
    mcc = smp_losses().MCCLoss(eps=1e-5)
    compare(
        build("soft_mcc", Task.MULTILABEL),
        lambda u, y: torch.stack([mcc(torch.sigmoid(u[:, k]), y[:, k]) for k in range(3)]).mean(),
        Task.MULTILABEL,
    )


def test_soft_mcc_multiclass_at_hard_predictions_is_torchmetrics_matthews_corrcoef() -> None:
    tmf = torchmetrics_functional()
    generator = torch.Generator().manual_seed(6)
    labels = torch.randint(0, N_CLASSES, (MEMBERS, BATCH), generator=generator)
    guesses = torch.where(
        torch.rand(MEMBERS, BATCH, generator=generator) < 0.6,
        labels,
        torch.randint(0, N_CLASSES, (MEMBERS, BATCH), generator=generator),
    )
    values = build("soft_mcc", Task.MULTICLASS)(hard_logits(guesses, N_CLASSES), labels)
    for m in range(MEMBERS):
        score = tmf.matthews_corrcoef(guesses[m], labels[m], task="multiclass", num_classes=3)
        assert values[m].item() == pytest.approx(1.0 - score.item(), abs=1e-5)


# --- Tversky family: kornia tversky_loss (multiclass), smp TverskyLoss (binary, multilabel) ----

ALPHA, BETA, GAMMA = 0.3, 0.7, 4.0 / 3.0


def tversky_params(n: int = MEMBERS, gamma: bool = False) -> dict[str, list[float]]:
    params = {"alpha": [ALPHA] * n, "beta": [BETA] * n}
    return params | ({"gamma": [GAMMA] * n} if gamma else {})


def test_tversky_multiclass_is_kornia_tversky_loss_on_the_batch_as_one_image() -> None:
    # kornia: softmax, per-class index with eps 1e-8 in the denominator, mean over the classes
    # present in the image.
    kornia = kornia_losses()
    compare(
        build("tversky", Task.MULTICLASS, tversky_params()),
        lambda u, y: kornia.tversky_loss(as_image(u), y.reshape(1, -1, 1), ALPHA, BETA, eps=1e-8),
        Task.MULTICLASS,
    )


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTILABEL])
def test_tversky_is_smp_tversky_loss_with_every_label_present(task: Task) -> None:
    # smp: from logits, smooth 0, eps 1e-7 as a floor of the denominator (ours adds 1e-8: both
    # are far below float32 resolution here); every label has a positive in these batches.
    smp = smp_losses()
    mode = "binary" if task is Task.BINARY else "multilabel"
    reference = smp.TverskyLoss(mode, alpha=ALPHA, beta=BETA, smooth=0.0)
    compare(
        build("tversky", task, tversky_params()),
        lambda u, y: reference(as_image(u), as_image(y)),
        task,
    )


def test_focal_tversky_binary_is_smp_tversky_loss_with_gamma_one_over_ours() -> None:
    # smp raises the class-averaged loss to ``gamma``; with one class that is Abraham & Khan's
    # per-class (1 - TI) ** (1 / gamma).
    smp = smp_losses()
    reference = smp.TverskyLoss("binary", alpha=ALPHA, beta=BETA, gamma=1.0 / GAMMA)
    compare(
        build("focal_tversky", Task.BINARY, tversky_params(gamma=True)),
        lambda u, y: reference(as_image(u), as_image(y)),
        Task.BINARY,
    )


def test_focal_tversky_multiclass_is_the_mean_of_smp_per_class_on_softmax() -> None:
    smp = smp_losses()
    per_class = smp.TverskyLoss(
        "binary", from_logits=False, alpha=ALPHA, beta=BETA, gamma=1.0 / GAMMA
    )

    def reference(u: Tensor, y: Tensor) -> Tensor:
        probs = torch.softmax(u, dim=-1)
        terms = [
            per_class(as_image(probs[:, c]), as_image((y == c).float()))
            for c in range(N_CLASSES)
            if (y == c).any()
        ]
        return torch.stack(terms).mean()

    compare(
        build("focal_tversky", Task.MULTICLASS, tversky_params(gamma=True)),
        reference,
        Task.MULTICLASS,
    )


def test_soft_dice_at_hard_predictions_is_smp_and_kornia_dice() -> None:
    # No package here implements the squared (V-Net) denominator; where p^2 = p (hard
    # predictions) it is smp's DiceLoss (mean over classes) and kornia's dice_loss(macro), up to
    # the 1e-5 smoothing.
    smp, kornia = smp_losses(), kornia_losses()
    generator = torch.Generator().manual_seed(7)
    labels = torch.randint(0, N_CLASSES, (MEMBERS, BATCH), generator=generator)
    guesses = torch.randint(0, N_CLASSES, (MEMBERS, BATCH), generator=generator)
    logits = hard_logits(guesses, N_CLASSES)
    values = build("soft_dice", Task.MULTICLASS)(logits, labels)
    dice = smp.DiceLoss("multiclass")
    for m in range(MEMBERS):
        image, target = as_image(logits[m]), labels[m].reshape(1, -1, 1)
        assert values[m].item() == pytest.approx(dice(image, target).item(), abs=1e-5)
        macro = kornia.dice_loss(image, target, average="macro")
        assert values[m].item() == pytest.approx(macro.item(), abs=1e-5)


# --- Lovász: smp LovaszLoss (per_image=False) and kornia ----------------------------------------


def test_lovasz_hinge_binary_is_smp_and_kornia_lovasz_hinge() -> None:
    smp, kornia = smp_losses(), kornia_losses()
    lovasz = smp.LovaszLoss("binary", per_image=False)
    loss = build("lovasz_hinge", Task.BINARY)
    compare(loss, lambda u, y: lovasz(u, y), Task.BINARY)
    compare(
        loss, lambda u, y: kornia.lovasz_hinge_loss(as_image(u), y.reshape(1, -1, 1)), Task.BINARY
    )


def test_lovasz_hinge_multilabel_is_the_mean_of_smp_binary_per_label() -> None:
    lovasz = smp_losses().LovaszLoss("binary", per_image=False)
    compare(
        build("lovasz_hinge", Task.MULTILABEL),
        lambda u, y: torch.stack([lovasz(u[:, k], y[:, k]) for k in range(3)]).mean(),
        Task.MULTILABEL,
    )


def test_lovasz_softmax_is_smp_lovasz_multiclass_over_present_classes() -> None:
    lovasz = smp_losses().LovaszLoss("multiclass", per_image=False)
    compare(
        build("lovasz_softmax", Task.MULTICLASS),
        lambda u, y: lovasz(as_image(u), y.reshape(1, -1, 1)),
        Task.MULTICLASS,
    )


def test_lovasz_softmax_is_kornia_lovasz_softmax_when_every_class_is_present() -> None:
    # kornia averages over all classes, Berman's default (and ours) over the present ones.
    kornia = kornia_losses()
    compare(
        build("lovasz_softmax", Task.MULTICLASS),
        lambda u, y: kornia.lovasz_softmax_loss(as_image(u), y.reshape(1, -1, 1)),
        Task.MULTICLASS,
    )


# --- Ranking: libauc PairwiseAUCLoss / AUCMLoss, torchmetrics average_precision -----------------


def test_pairwise_auc_is_libauc_pairwise_logistic_on_raw_logits() -> None:
    # libauc applies log(1 + exp(-hparam * t)) to the differences of whatever scores it is
    # given (no sigmoid inside): here the logits, with scale 1.
    reference = libauc_losses().PairwiseAUCLoss(surr_loss="logistic", hparam=1.0)
    compare(build("pairwise_auc", Task.BINARY), lambda u, y: reference(u, y), Task.BINARY)


@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_pairwise_auc_sqhinge_is_libauc_pairwise_squared_hinge(margin: float) -> None:
    reference = libauc_losses().PairwiseAUCLoss(surr_loss="squared_hinge", hparam=margin)
    loss = build("pairwise_auc_sqhinge", Task.BINARY, {"margin": [margin] * MEMBERS})
    compare(loss, lambda u, y: reference(u, y), Task.BINARY)


def test_auc_m_is_libauc_aucm_loss_v1_with_the_training_prior() -> None:
    # libauc scores sigmoid outputs; auto=False keeps the given imratio instead of the batch's.
    libauc = libauc_losses()
    a, b, alpha, margin, prior = 0.7, 0.2, 0.4, 0.8, 1.0 / 3.0  # class counts (40, 20)
    loss = build("auc_m", Task.BINARY, {"margin": [margin] * MEMBERS, "lr_scale": [1.0] * 3})
    variables = {name: getattr(loss, name) for name in ("a", "b", "alpha")}
    with torch.no_grad():
        for name, value in (("a", a), ("b", b), ("alpha", alpha)):
            variables[name].fill_(value)
    reference = libauc.AUCMLoss(margin=margin, imratio=prior, device=torch.device("cpu"))
    with torch.no_grad():
        reference.a.fill_(a)
        reference.b.fill_(b)
        reference.alpha.fill_(alpha)
    compare(
        loss,
        lambda u, y: reference(torch.sigmoid(u), y, auto=False).reshape(()),
        Task.BINARY,
    )
    # and the gradients that drive a, b and alpha (summed over the members for ours)
    for name, ours in variables.items():
        assert isinstance(ours, Tensor)
        assert ours.grad is not None
        theirs = getattr(reference, name).grad
        torch.testing.assert_close(ours.grad.sum(), theirs.sum(), rtol=1e-4, atol=1e-6)


def test_smooth_ap_at_zero_temperature_is_torchmetrics_average_precision() -> None:
    tmf = torchmetrics_functional()
    outputs, targets = random_batch(Task.BINARY, MEMBERS, BATCH, seed=8)
    probs = torch.sigmoid(outputs)
    gaps = (probs.unsqueeze(-1) - probs.unsqueeze(-2)).abs() + torch.eye(BATCH)
    assert gaps.min().item() > 1e-5  # no near-ties, so sigmoid(gap / 1e-7) is exactly 0 or 1
    values = build("smooth_ap", Task.BINARY, {"temperature": [1e-7] * MEMBERS})(outputs, targets)
    for m in range(MEMBERS):
        ap = tmf.average_precision(outputs[m], targets[m].long(), task="binary")
        assert values[m].item() == pytest.approx(1.0 - ap.item(), abs=1e-6)


# --- Agreement and regression: torchmetrics ------------------------------------------------------


@pytest.mark.parametrize("weights", ["quadratic", "linear"])
def test_soft_qwk_at_hard_predictions_is_torchmetrics_cohen_kappa(weights: str) -> None:
    tmf = torchmetrics_functional()
    generator = torch.Generator().manual_seed(9)
    labels = torch.randint(0, N_CLASSES, (MEMBERS, BATCH), generator=generator)
    guesses = (labels + torch.randint(-1, 2, (MEMBERS, BATCH), generator=generator)).clamp(0, 2)
    loss = build("soft_qwk", Task.MULTICLASS, metric_params={"weights": weights})
    values = loss(hard_logits(guesses, N_CLASSES), labels)
    for m in range(MEMBERS):
        kappa = tmf.cohen_kappa(
            guesses[m], labels[m], task="multiclass", num_classes=N_CLASSES, weights=weights
        )
        assert values[m].item() == pytest.approx(1.0 - kappa.item(), abs=1e-5)


def test_r2_loss_is_one_minus_torchmetrics_r2_score() -> None:
    r2_score = torchmetrics_functional().r2_score
    compare(
        build("r2_loss", Task.REGRESSION),
        lambda f, y: 1.0 - r2_score(f, y),
        Task.REGRESSION,
    )


@pytest.mark.parametrize("batch", [7, 8])
def test_median_ae_loss_is_numpys_median_absolute_residual(batch: int) -> None:
    outputs, targets = random_batch(Task.REGRESSION, MEMBERS, batch, seed=10)
    values = build("median_ae_loss", Task.REGRESSION)(outputs, targets)
    expected = np.median(np.abs((targets - outputs).numpy()), axis=1)
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-6)
