"""Losses on soft targets (multiclass rows that are label distributions): which losses take them,
each against torch's own functions with probability targets, and their snippets."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own spelling)

from tests.engine.losses.harness import (
    N_CLASSES,
    assert_snippet_reproduces,
    build,
    context,
    soft_batch,
)
from tests.engine.losses.test_snippets import run_snippet
from workers.engine.errors import SpecError
from workers.engine.losses import LOSSES, baseline_loss, get_loss, losses_for
from workers.engine.losses.snippets import render_snippet
from workers.engine.metrics import metrics_for
from workers.engine.space import SearchSpace
from workers.engine.spec import Family, Task

SOFT_LOSSES = sorted(name for name, spec in LOSSES.items() if spec.soft_targets)


def test_the_losses_that_take_soft_targets_are_the_proper_probability_losses() -> None:
    assert SOFT_LOSSES == ["brier", "cross_entropy", "kl_divergence"]
    assert baseline_loss(Task.MULTICLASS).soft_targets  # every soft job keeps its baseline


def test_soft_jobs_search_only_soft_losses_and_hard_jobs_never_search_kl_divergence() -> None:
    for metric in metrics_for(Task.MULTICLASS):
        soft = losses_for(Task.MULTICLASS, metric, tuple(Family), soft_targets=True)
        hard = losses_for(Task.MULTICLASS, metric, tuple(Family))
        soft_names = {spec.name for specs in soft.values() for spec in specs}
        hard_names = {spec.name for specs in hard.values() for spec in specs}
        assert "cross_entropy" in soft_names
        assert soft_names <= set(SOFT_LOSSES)
        assert "kl_divergence" not in hard_names
    kl_space = losses_for(Task.MULTICLASS, "kl_divergence", tuple(Family), soft_targets=True)
    assert [s.name for s in kl_space[Family.PROXY]] == ["cross_entropy", "brier", "kl_divergence"]


def test_asking_for_a_hard_label_loss_on_soft_targets_says_why() -> None:
    with pytest.raises(SpecError, match="takes hard class labels") as caught:
        SearchSpace.build(Task.MULTICLASS, "accuracy", tuple(Family), ("focal",), soft_targets=True)
    assert caught.value.field == "losses"
    assert "brier, cross_entropy, kl_divergence" in str(caught.value)
    with pytest.raises(SpecError, match="for soft targets"):
        SearchSpace.build(Task.MULTICLASS, "log_loss", tuple(Family), ("kl_divergence",))


def _members(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return soft_batch(n_members=3, batch=32, seed=seed)


@pytest.mark.parametrize("seed", range(4))
def test_cross_entropy_on_soft_targets_is_torchs_with_probability_targets(seed: int) -> None:
    outputs, targets = _members(seed)
    loss = build("cross_entropy", Task.MULTICLASS, soft_targets=True)
    expected = torch.stack([F.cross_entropy(o, t) for o, t in zip(outputs, targets, strict=True)])
    torch.testing.assert_close(loss(outputs, targets), expected)


@pytest.mark.parametrize("seed", range(4))
def test_kl_divergence_is_torchs_kl_div_and_has_cross_entropys_gradient(seed: int) -> None:
    outputs, targets = _members(seed)
    kl = build("kl_divergence", Task.MULTICLASS, soft_targets=True)
    ours = outputs.clone().requires_grad_(True)
    value = kl(ours, targets)
    expected = torch.stack(
        [
            F.kl_div(torch.log_softmax(o, dim=-1), t, reduction="batchmean")
            for o, t in zip(outputs, targets, strict=True)
        ]
    )
    torch.testing.assert_close(value, expected)
    value.sum().backward()
    reference = outputs.clone().requires_grad_(True)
    build("cross_entropy", Task.MULTICLASS, soft_targets=True)(reference, targets).sum().backward()
    assert ours.grad is not None
    assert reference.grad is not None
    torch.testing.assert_close(ours.grad, reference.grad)


def test_kl_divergence_is_zero_at_the_target_and_cross_entropy_on_class_codes() -> None:
    _, targets = _members(7)
    kl = build("kl_divergence", Task.MULTICLASS, soft_targets=True)
    at_target = torch.log(targets.clamp_min(1e-30))  # softmax(log t) = t
    torch.testing.assert_close(kl(at_target, targets), torch.zeros(3), atol=1e-5, rtol=0)
    outputs = torch.randn(2, 16, N_CLASSES)
    codes = torch.randint(0, N_CLASSES, (2, 16))
    torch.testing.assert_close(
        kl(outputs, codes), build("cross_entropy", Task.MULTICLASS)(outputs, codes)
    )


@pytest.mark.parametrize("seed", range(4))
def test_brier_on_soft_targets_is_the_squared_distance_to_the_distribution(seed: int) -> None:
    outputs, targets = _members(seed)
    loss = build("brier", Task.MULTICLASS, soft_targets=True)
    expected = F.mse_loss(torch.softmax(outputs, -1), targets, reduction="none").sum(-1).mean(-1)
    torch.testing.assert_close(loss(outputs, targets), expected)


@pytest.mark.parametrize("name", SOFT_LOSSES)
def test_the_snippet_reproduces_the_library_loss_on_soft_targets(name: str) -> None:
    spec = get_loss(name)
    ctx = context(Task.MULTICLASS, soft_targets=True)
    library = build(name, Task.MULTICLASS, soft_targets=True)
    source = render_snippet(name, Task.MULTICLASS, {}, ctx, spec.reference)
    assert "soft targets (batch, classes)" in source
    snippet = run_snippet(source)
    for seed in range(3):
        outputs, targets = soft_batch(n_members=1, batch=24, seed=seed)
        assert_snippet_reproduces(library, snippet, outputs, targets)
