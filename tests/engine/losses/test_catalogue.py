"""Properties every loss in the catalogue must have, for every task it supports.

Finite values and gradients at extreme logits and on awkward batches, members that cannot see
each other, dropping members, and sane parameter ranges.
"""

from __future__ import annotations

import pytest
import torch

from tests.engine.losses.harness import (
    LOSS_TASK_IDS,
    LOSS_TASKS,
    build_spread,
    extreme_batch,
    random_batch,
)
from workers.engine.errors import SpecError
from workers.engine.losses import LOSSES, get_loss
from workers.engine.spec import Task


@pytest.mark.parametrize("kind", ["no_positives", "only_positives", "single"])
@pytest.mark.parametrize(("name", "task"), LOSS_TASKS, ids=LOSS_TASK_IDS)
def test_loss_and_gradient_are_finite_at_extreme_logits(name: str, task: Task, kind: str) -> None:
    loss = build_spread(name, task, n_members=2)  # one member at each end of every range
    outputs, targets = extreme_batch(task, kind)
    outputs.requires_grad_(True)
    value = loss(outputs, targets)
    assert value.shape == (2,)
    assert torch.isfinite(value).all(), value
    value.sum().backward()
    assert outputs.grad is not None
    assert torch.isfinite(outputs.grad).all(), outputs.grad


@pytest.mark.parametrize(("name", "task"), LOSS_TASKS, ids=LOSS_TASK_IDS)
def test_a_members_loss_ignores_other_members_outputs(name: str, task: Task) -> None:
    loss = build_spread(name, task, n_members=3)
    outputs, targets = random_batch(task, n_members=3, batch=8)
    before = loss(outputs, targets)
    changed = outputs.clone()
    changed[1] = changed[1] * -3.0 + 1.0
    after = loss(changed, targets)
    assert after[0].item() == before[0].item()
    assert after[2].item() == before[2].item()
    assert after[1].item() != before[1].item()


@pytest.mark.parametrize(("name", "task"), LOSS_TASKS, ids=LOSS_TASK_IDS)
def test_a_members_loss_has_no_gradient_on_other_members_outputs(name: str, task: Task) -> None:
    loss = build_spread(name, task, n_members=3)
    outputs, targets = random_batch(task, n_members=3, batch=8, seed=1)
    outputs.requires_grad_(True)
    loss(outputs, targets)[1].backward()
    assert outputs.grad is not None
    assert torch.count_nonzero(outputs.grad[0]) == 0
    assert torch.count_nonzero(outputs.grad[2]) == 0
    assert torch.count_nonzero(outputs.grad[1]) > 0


@pytest.mark.parametrize(("name", "task"), LOSS_TASKS, ids=LOSS_TASK_IDS)
def test_select_keeps_each_kept_members_own_loss(name: str, task: Task) -> None:
    loss = build_spread(name, task, n_members=3)
    outputs, targets = random_batch(task, n_members=3, batch=12, seed=10)
    full = loss(outputs, targets)
    loss.select(torch.tensor([0, 2]))
    kept = loss(outputs[[0, 2]], targets[[0, 2]])
    assert kept.shape == (2,)
    torch.testing.assert_close(kept, full[[0, 2]], rtol=0.0, atol=0.0)


def test_every_searched_parameter_has_its_default_inside_its_range() -> None:
    for spec in LOSSES.values():
        for p in spec.params:
            assert p.low <= p.default <= p.high, (spec.name, p.name)


def test_unknown_loss_raises_spec_error_listing_the_catalogue() -> None:
    with pytest.raises(SpecError, match="unknown loss 'no_such_loss'") as excinfo:
        get_loss("no_such_loss")
    for name in LOSSES:
        assert name in str(excinfo.value)
