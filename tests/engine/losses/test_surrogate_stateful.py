"""Surrogates with loss-owned variables — AUC-M (a, b, alpha) and Eban et al.'s constrained
objectives (lambda): values by hand and the direction of every update."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from tests.engine.losses.harness import LN3, build, t
from workers.engine.losses.base import Loss
from workers.engine.spec import Task

# The harness's binary class counts are (40, 20), so AUC-M's prior p is 1/3.


def variable(loss: torch.nn.Module, name: str) -> Tensor:
    """A loss-owned variable (or a mixture's surrogate's), typed."""
    value = getattr(loss, name)
    assert isinstance(value, Tensor)
    return value


def surrogate_of(mixture: torch.nn.Module) -> Loss:
    inner = mixture.surrogate
    assert isinstance(inner, Loss)
    return inner


def set_variables(loss: Loss, **values: float) -> None:
    with torch.no_grad():
        for name, value in values.items():
            variable(loss, name).fill_(value)


def test_auc_m_is_the_libauc_v1_objective_at_given_a_b_alpha() -> None:
    # h = (1/2, 3/4), y = (1, 0), a = 1, b = 0, alpha = 1/2, m = 1, p = 1/3.
    # (1-p) mean((h-a)^2 pos) = 2/3 * 1/8; p mean((h-b)^2 neg) = 1/3 * 9/32;
    # gap = mean(p h neg - (1-p) h pos) = (1/4 - 1/3) / 2 = -1/24;
    # 2 alpha (p(1-p) m + gap) = 2/9 - 1/24 = 13/72; -p(1-p) alpha^2 = -1/18. Total 29/96.
    loss = build("auc_m", Task.BINARY, {"margin": [1.0], "lr_scale": [10.0]})
    set_variables(loss, a=1.0, b=0.0, alpha=0.5)
    value = loss(t([[0.0, LN3]]), t([[1.0, 0.0]]))
    assert value.item() == pytest.approx(29.0 / 96.0, abs=1e-6)


def test_auc_m_descends_on_a_b_and_ascends_on_alpha_with_the_member_learning_rate() -> None:
    # Gradients at the case above: dL/da = -2 (1-p) mean((h-a) pos) = 1/3,
    # dL/db = -2 p mean((h-b) neg) = -1/4, dL/dalpha = 2 (p(1-p) m + gap) - 2 p(1-p) alpha
    # = 13/36 - 8/36 = 5/36.
    # Step lr * lr_scale = 0.1 * 10 = 1.
    loss = build("auc_m", Task.BINARY, {"margin": [1.0], "lr_scale": [10.0]})
    set_variables(loss, a=1.0, b=0.0, alpha=0.5)
    loss(t([[0.0, LN3]]), t([[1.0, 0.0]])).sum().backward()
    loss.after_step(torch.tensor([0.1]))
    assert variable(loss, "a").item() == pytest.approx(1.0 - 1.0 / 3.0, abs=1e-6)
    assert variable(loss, "b").item() == pytest.approx(0.25, abs=1e-6)
    assert variable(loss, "alpha").item() == pytest.approx(0.5 + 5.0 / 36.0, abs=1e-6)
    assert variable(loss, "a").grad is None


def test_auc_m_keeps_alpha_non_negative() -> None:
    # Positives far above negatives: dL/dalpha = 2 (p(1-p) m + gap) < 0 at alpha = 0.
    loss = build("auc_m", Task.BINARY, {"margin": [0.1], "lr_scale": [100.0]})
    loss(t([[10.0, -10.0]]), t([[1.0, 0.0]])).sum().backward()
    loss.after_step(torch.tensor([1.0]))
    assert variable(loss, "alpha").item() == 0.0


def test_auc_m_variables_start_at_zero_and_follow_select() -> None:
    loss = build("auc_m", Task.BINARY, {"margin": [1.0, 0.5, 0.2], "lr_scale": [1.0, 2.0, 3.0]})
    for name in ("a", "b", "alpha"):
        assert variable(loss, name).tolist() == [0.0, 0.0, 0.0]
    with torch.no_grad():
        variable(loss, "a").copy_(torch.tensor([1.0, 2.0, 3.0]))
    loss.select(torch.tensor([0, 2]))
    assert variable(loss, "a").tolist() == [1.0, 3.0]
    assert variable(loss, "a").requires_grad


def test_eban_recall_at_precision_is_the_hinge_lagrangian() -> None:
    # u = (2, 0, -0.5), y = (1, 1, 0), min_precision 0.8 (ratio 4), lambda 1:
    # L+ = 0 + 1, L- = 0.5, n+ = 2: (2 * 1 + 4 * 0.5 - 2) / 3 = 2/3.
    loss = build("eban_recall_at_precision", Task.BINARY, {"dual_scale": [1.0]})
    set_variables(loss, lam=1.0)
    value = loss(t([[2.0, 0.0, -0.5]]), t([[1.0, 1.0, 0.0]]))
    assert value.item() == pytest.approx(2.0 / 3.0, abs=1e-6)


def test_eban_precision_at_recall_is_the_hinge_lagrangian() -> None:
    # Same batch, min_recall 0.8, lambda 1: (L- + (L+ - 0.2 * 2)) / 3 = (0.5 + 0.6) / 3.
    loss = build("eban_precision_at_recall", Task.BINARY, {"dual_scale": [1.0]})
    set_variables(loss, lam=1.0)
    value = loss(t([[2.0, 0.0, -0.5]]), t([[1.0, 1.0, 0.0]]))
    assert value.item() == pytest.approx(1.1 / 3.0, abs=1e-6)


def test_eban_lambda_follows_the_true_precision_violation_not_its_hinge_bound() -> None:
    # u = (2, -1, 0.5), y = (1, 1, 0): decisions u >= 0 give tp 1, fp 1; min_precision 0.8
    # (ratio 4). True violation (4 * 1 - 1) / 3 = 1; step 0.5 * dual_scale 2 = 1.
    loss = build("eban_recall_at_precision", Task.BINARY, {"dual_scale": [2.0]})
    loss(t([[2.0, -1.0, 0.5]]), t([[1.0, 1.0, 0.0]])).sum().backward()
    loss.after_step(torch.tensor([0.5]))
    assert variable(loss, "lam").item() == pytest.approx(1.0, abs=1e-6)
    # u = (2, 0, -0.5): precision 1 (tp 2, fp 0), violation -2/3, though the hinge bound
    # (L+ + 4 L- - n+) / 3 = +1/3 still calls it violated: lambda must fall, here to 1/3.
    loss(t([[2.0, 0.0, -0.5]]), t([[1.0, 1.0, 0.0]])).sum().backward()
    loss.after_step(torch.tensor([0.5]))
    assert variable(loss, "lam").item() == pytest.approx(1.0 / 3.0, abs=1e-6)
    loss(t([[2.0, 0.0, -0.5]]), t([[1.0, 1.0, 0.0]])).sum().backward()
    loss.after_step(torch.tensor([10.0]))
    assert variable(loss, "lam").item() == 0.0


def test_eban_lambda_rises_while_the_recall_constraint_is_violated() -> None:
    # u = (2, -1, 0.5), y = (1, 1, 0): fn 1, min_recall 0.8: (1 - 0.2 * 2) / 3 = 0.2; step 1.
    loss = build("eban_precision_at_recall", Task.BINARY, {"dual_scale": [1.0]})
    loss(t([[2.0, -1.0, 0.5]]), t([[1.0, 1.0, 0.0]])).sum().backward()
    loss.after_step(torch.tensor([1.0]))
    assert variable(loss, "lam").item() == pytest.approx(0.2, abs=1e-6)


@pytest.mark.parametrize(
    ("name", "metric", "level"),
    [
        ("eban_recall_at_precision", "recall_at_precision", {"min_precision": 0.8}),
        ("eban_precision_at_recall", "precision_at_recall", {"min_recall": 0.8}),
    ],
)
def test_eban_training_keeps_lambda_bounded_and_the_model_deciding(
    name: str, metric: str, level: dict[str, float]
) -> None:
    # A logistic model on two overlapping Gaussian classes (25% positives), full-batch gradient
    # descent. Ascending on the loose hinge bound drove lambda up without limit and the model to
    # a constant; on the true violation lambda settles and the model keeps separating.
    generator = torch.Generator().manual_seed(0)
    n = 400
    labels = (torch.arange(n) < n // 4).float()
    features = torch.randn(n, 2, generator=generator) + 1.5 * labels.unsqueeze(-1)
    weights = torch.zeros(2, requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    loss = build(name, Task.BINARY, {"dual_scale": [1.0]}, metric=metric, metric_params=level)
    optimiser = torch.optim.SGD([weights, bias], lr=0.1)
    for _ in range(600):
        optimiser.zero_grad()
        logits = (features @ weights + bias).unsqueeze(0)
        loss(logits, labels.unsqueeze(0)).sum().backward()
        optimiser.step()
        loss.after_step(torch.tensor([0.1]))
    assert variable(loss, "lam").item() < 5.0
    assert weights.norm().item() > 0.5  # still uses the features: not a constant
    decided = (features @ weights + bias) >= 0
    assert 0 < int(decided.sum()) < n


def test_eban_takes_the_constraint_level_from_the_metric() -> None:
    # min_precision 0.5 (ratio 1) instead of 0.8 (ratio 4), lambda 1: (2 + 0.5 - 2) / 3.
    loss = build(
        "eban_recall_at_precision",
        Task.BINARY,
        {"dual_scale": [1.0]},
        metric="recall_at_precision",
        metric_params={"min_precision": 0.5},
    )
    set_variables(loss, lam=1.0)
    value = loss(t([[2.0, 0.0, -0.5]]), t([[1.0, 1.0, 0.0]]))
    assert value.item() == pytest.approx(0.5 / 3.0, abs=1e-6)


def test_a_mixed_stateful_loss_freezes_its_variables_during_the_warmup() -> None:
    # During the warm-up the surrogate's weight is 0, so lambda's gradient is 0.
    loss = build(
        "mixed_eban_recall_at_precision",
        Task.BINARY,
        {"dual_scale": [1.0], "lam": [0.5], "warmup": [0.2]},
    )
    # A batch that violates the precision floor: true violation (4 * 1 - 1) / 3 = 1.
    outputs, targets = t([[2.0, -1.0, 0.5]]), t([[1.0, 1.0, 0.0]])
    loss.start_epoch(1)
    loss(outputs, targets).sum().backward()
    loss.after_step(torch.tensor([1.0]))
    assert variable(surrogate_of(loss), "lam").item() == 0.0
    loss.start_epoch(3)  # surrogate weight 1 - lam = 1/2: the step is halved
    loss(outputs, targets).sum().backward()
    loss.after_step(torch.tensor([1.0]))
    assert variable(surrogate_of(loss), "lam").item() == pytest.approx(0.5, abs=1e-6)
