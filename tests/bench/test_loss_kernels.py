"""bench.loss_kernels: a snippet vmapped over members is the library loss, member by member,
and the bench says which snippets cannot serve a population that way, and why."""

from __future__ import annotations

import torch

from bench.loss_kernels import batch, loss_context, measure, parse_args, snippet_builder, spread
from workers.engine.losses import LOSSES
from workers.engine.losses.build import build_loss
from workers.engine.spec import Task


def test_a_vmapped_snippet_gives_each_member_its_library_loss_and_gradient() -> None:
    ctx = loss_context(Task.MULTICLASS, torch.device("cpu"))
    params = spread("focal", Task.MULTICLASS, 3, torch.device("cpu"))
    outputs, targets = batch(Task.MULTICLASS, 3, 64, torch.device("cpu"))
    library = build_loss(LOSSES["focal"], params, ctx)(outputs, targets)
    vmapped = snippet_builder("focal")(params, ctx)(outputs, targets)
    torch.testing.assert_close(vmapped, library)
    (library_grad,) = torch.autograd.grad(library.sum(), outputs)
    (vmapped_grad,) = torch.autograd.grad(vmapped.sum(), outputs)
    torch.testing.assert_close(vmapped_grad, library_grad)


def test_the_table_row_times_both_for_each_population_size() -> None:
    args = parse_args(["--members", "1,2", "--repeats", "1", "--batch", "16"])
    row = measure("soft_f1", Task.BINARY, args)
    assert row[:3] == ["soft_f1", "binary", "yes"]
    assert float(str(row[3])) < 1e-5  # the largest disagreement
    assert len(row) == 4 + 3 * 2
    assert all(isinstance(v, int | float) for v in row[4:])


def test_stateful_losses_and_data_dependent_snippets_are_named_not_timed() -> None:
    args = parse_args(["--members", "2", "--repeats", "1", "--batch", "16"])
    assert measure("auc_m", Task.BINARY, args)[2] == "keeps state"
    assert str(measure("pairwise_auc", Task.BINARY, args)[2]).startswith("no: vmap")
