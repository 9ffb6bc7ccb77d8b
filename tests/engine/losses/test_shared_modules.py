"""Losses that share a module (a ``fusion_key``): members of several losses in one module each
get exactly what their own loss gives them alone, values and gradients."""

from __future__ import annotations

import pytest
import torch

from tests.engine.losses.harness import build
from workers.engine.losses.sigmoid_cross_entropies import SigmoidCrossEntropies
from workers.engine.spec import Task

# For each shared module, one member of each loss it serves, with parameters away from their
# neutral values.
SHARED: dict[str, list[tuple[str, dict[str, list[float]]]]] = {
    "sigmoid_cross_entropies": [
        ("cross_entropy", {}),
        ("class_weighted_ce", {"power": [0.7]}),
        ("class_balanced", {"one_minus_beta": [1e-2]}),
        ("focal", {"gamma": [2.0], "alpha": [0.3]}),
        ("logit_adjusted", {"tau": [1.5]}),
        ("label_smoothing", {"epsilon": [0.2]}),
        ("poly1", {"epsilon": [-0.5]}),
    ],
    "sigmoid_f_beta": [
        ("soft_f1", {}),
        ("sigmoid_f1", {"slope": [3.0], "offset": [-0.5]}),
        ("sigmoid_f1_prob", {"S": [-8.0], "E": [-0.4]}),
    ],
    "tversky": [
        ("tversky", {"alpha": [0.2], "beta": [0.8]}),
        ("focal_tversky", {"alpha": [0.4], "beta": [0.6], "gamma": [1.7]}),
    ],
    "mixed_sigmoid_f_beta": [
        ("mixed_soft_f1", {"lam": [0.3], "warmup": [0.0]}),
        ("mixed_sigmoid_f1_prob", {"S": [-8.0], "E": [-0.4], "lam": [0.6], "warmup": [0.0]}),
    ],
}
COUNTS = {Task.BINARY: [80.0, 20.0], Task.MULTILABEL: [20.0, 55.0, 3.0]}


def data(task: Task, members: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(5)
    shape = (members, 64) if task is Task.BINARY else (members, 64, 3)
    outputs = 4.0 * torch.randn(shape, generator=generator)
    outputs[..., 0] = 60.0  # a saturated logit: every term must stay finite
    targets = (torch.rand(shape, generator=generator) < 0.3).float()
    return outputs, targets


@pytest.mark.parametrize("key", sorted(SHARED))
@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTILABEL])
def test_each_member_of_a_shared_module_gets_exactly_its_own_loss(key: str, task: Task) -> None:
    extra = {"n_train": 100} if task is Task.MULTILABEL else {}
    members = SHARED[key]
    modules = [
        build(name, task, params, class_counts=COUNTS[task], **extra) for name, params in members
    ]
    assert {m.fusion_key for m in modules} == {key}
    shared = modules[0]
    for module in modules[1:]:
        shared.extend(module)
    shared.start_epoch(5)  # past every warm-up
    outputs, targets = data(task, len(members))
    together_outputs = outputs.clone().requires_grad_()
    together = shared(together_outputs, targets)
    together.sum().backward()
    for m, (name, params) in enumerate(members):
        alone_module = build(name, task, params, class_counts=COUNTS[task], **extra)
        alone_module.start_epoch(5)
        alone_outputs = outputs[m : m + 1].clone().requires_grad_()
        alone = alone_module(alone_outputs, targets[m : m + 1])
        alone.sum().backward()
        assert torch.equal(together[m : m + 1], alone), name
        together_grad, alone_grad = together_outputs.grad, alone_outputs.grad
        assert together_grad is not None
        assert alone_grad is not None
        assert torch.equal(together_grad[m : m + 1], alone_grad), name
        assert torch.isfinite(alone_grad).all()


def test_a_block_left_with_plain_members_drops_the_terms_nobody_uses() -> None:
    focal = build("focal", Task.BINARY, {"gamma": [2.0], "alpha": [0.5]})
    smoothing = build("label_smoothing", Task.BINARY, {"epsilon": [0.1]})
    focal.extend(smoothing)
    outputs, targets = data(Task.BINARY, 2)
    before = focal(outputs, targets)[1]
    focal.select(torch.tensor([1]))  # the focal member finished
    assert isinstance(focal, SigmoidCrossEntropies)
    assert focal.gamma.tolist() == [0.0]
    assert torch.equal(focal(outputs[1:], targets[1:])[0], before)


def test_the_module_is_for_sigmoid_decisions_only() -> None:
    with pytest.raises(ValueError, match="binary and multilabel"):
        SigmoidCrossEntropies.for_members(Task.MULTICLASS, 3, gamma=torch.zeros(1))
