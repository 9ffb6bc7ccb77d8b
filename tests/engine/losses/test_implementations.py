"""The catalogue and the torch implementations agree: each entry has exactly one builder, and
each builder an entry.

The catalogue (metadata, torch-free) and the builders (torch) are declared in separate modules,
so a new loss with metadata but no code, or code but no metadata, fails here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
import torch

from tests.engine.losses.harness import context
from workers.engine.losses import LOSSES, get_loss
from workers.engine.losses.base import Loss
from workers.engine.losses.build import BUILDER_GROUPS, IMPLEMENTATIONS, build_loss
from workers.engine.spec import Task


def test_every_catalogue_entry_has_exactly_one_implementation() -> None:
    counts = Counter(name for group in BUILDER_GROUPS for name in group)
    wrong = {name: counts[name] for name in LOSSES if counts[name] != 1}
    assert wrong == {}, "catalogue entries with no implementation (0) or several (>1)"


def test_every_implementation_has_a_catalogue_entry() -> None:
    assert sorted(set(IMPLEMENTATIONS) - set(LOSSES)) == []


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_build_loss_makes_a_loss_module_for_every_entry(name: str) -> None:
    spec = get_loss(name)
    task = sorted(spec.tasks)[0]
    params = {p.name: torch.tensor([p.default]) for p in spec.params_for(task)}
    assert isinstance(build_loss(spec, params, context(task)), Loss)


def test_an_entry_without_an_implementation_is_refused_by_name() -> None:
    orphan = replace(get_loss("mse"), name="no_such_implementation")
    with pytest.raises(LookupError, match="'no_such_implementation'"):
        build_loss(orphan, {}, context(Task.REGRESSION))
