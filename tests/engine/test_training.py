"""Population training: the optimiser, member independence, failures, pruning, early stopping.

The central promise: training a configuration inside a population gives the same model as
training it alone, whatever the other members do (other losses, divergence, pruning).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pytest
import torch

from workers.engine.datasets import PreparedData
from workers.engine.evaluation import Evaluator
from workers.engine.metrics import get_metric
from workers.engine.optim import PopulationAdamW
from workers.engine.population import MemberConfig, Population
from workers.engine.trainer import PopulationTrainer
from workers.engine.training import (
    DeviceData,
    MemberResult,
    Monitor,
    Outcome,
    predict,
    train_population,
)
from workers.engine.training_plan import TrainingPlan

PLAN = TrainingPlan(batch_size=64, max_epochs=6, eval_every=2, patience=3)

MEMBERS = [
    MemberConfig("cross_entropy", {}, 3e-3, seed=11),
    MemberConfig("focal", {"gamma": 2.0, "alpha": 0.25}, 1e-2, seed=12),
    MemberConfig("pairwise_auc", {}, 1e-3, seed=13),
    MemberConfig("mixed_soft_f1", {"lam": 0.5, "warmup": 0.1}, 5e-3, seed=14),
    MemberConfig("cross_entropy", {}, 1e-3, seed=15),
]


# --- the optimiser ---------------------------------------------------------------------------


def regression_problem(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 5, generator=generator)
    y = x @ torch.randn(5, 1, generator=generator) + 0.1 * torch.randn(32, 1, generator=generator)
    w = torch.randn(1, 5, 1, generator=generator)
    return x, y, w


def squared_error(x: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (torch.matmul(x, w) - y).pow(2).mean()


@pytest.mark.parametrize(
    ("lr", "weight_decay", "betas", "eps"),
    [(1e-2, 1e-4, (0.9, 0.999), 1e-8), (3e-2, 0.1, (0.8, 0.99), 1e-6)],
)
def test_one_member_adamw_matches_torch_adamw(
    lr: float, weight_decay: float, betas: tuple[float, float], eps: float
) -> None:
    x, y, w0 = regression_problem(0)
    ours = w0.clone().requires_grad_()
    theirs = w0.clone().requires_grad_()
    population = PopulationAdamW([ours], torch.tensor([lr]), weight_decay, betas, eps)
    reference = torch.optim.AdamW([theirs], lr=lr, weight_decay=weight_decay, betas=betas, eps=eps)
    for _ in range(20):
        torch.autograd.backward(squared_error(x, ours[0], y))
        population.step()
        reference.zero_grad()
        torch.autograd.backward(squared_error(x, theirs[0], y))
        reference.step()
        assert ours.grad is None  # step() clears the gradients it used
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=0.0, atol=1e-6)
    assert not torch.equal(ours.detach(), w0)


def test_each_member_follows_adamw_with_its_own_learning_rate() -> None:
    x, y, _ = regression_problem(1)
    start = torch.randn(3, 5, 1, generator=torch.Generator().manual_seed(2))
    lrs = [1e-3, 1e-2, 5e-2]
    stacked = start.clone().requires_grad_()
    population = PopulationAdamW([stacked], torch.tensor(lrs), weight_decay=1e-2)
    singles = [start[m : m + 1].clone().requires_grad_() for m in range(3)]
    references = [
        torch.optim.AdamW([s], lr=lr, weight_decay=1e-2) for s, lr in zip(singles, lrs, strict=True)
    ]
    for step in range(20):
        if step == 10:  # drop the middle member halfway; the others carry on unchanged
            stacked = stacked.detach()[[0, 2]].requires_grad_()
            population.rearrange([stacked], torch.tensor([0, 2]), torch.zeros(0))
            singles, references = [singles[0], singles[2]], [references[0], references[2]]
        torch.autograd.backward((torch.matmul(x, stacked) - y).pow(2).mean(dim=(1, 2)).sum())
        population.step()
        for single, reference in zip(singles, references, strict=True):
            reference.zero_grad()
            torch.autograd.backward(squared_error(x, single[0], y))
            reference.step()
    torch.testing.assert_close(
        stacked.detach(), torch.cat([s.detach() for s in singles]), rtol=0.0, atol=1e-6
    )


# --- members are independent -----------------------------------------------------------------


def train(
    members: Sequence[MemberConfig],
    device_data: DeviceData,
    evaluator: Evaluator,
    plan: TrainingPlan = PLAN,
    monitor: Monitor | None = None,
) -> list[MemberResult]:
    return train_population(members, device_data, evaluator, plan, monitor, keep_states=True)


def assert_same_training(
    together: MemberResult, alone: MemberResult, device_data: DeviceData
) -> None:
    """Same ending, same best epoch, same score, and (nearly) the same kept model.

    Validation AUC can saturate at 1.0, so the kept models' validation outputs are compared too.
    Batched and single matrix products round differently (about 1e-7), and for the pairwise AUC
    loss, which is blind to a shift of every output, Adam turns that rounding noise in the output
    bias's zero gradient into a drift; outputs are therefore compared up to a common shift.
    """
    assert together.outcome is alone.outcome
    assert together.score is not None
    assert alone.score is not None
    assert together.score.value == pytest.approx(alone.score.value, abs=1e-6)
    assert together.best_epoch == alone.best_epoch
    assert together.epochs_trained == alone.epochs_trained
    assert together.state is not None
    assert alone.state is not None
    ours = predict(together.state, device_data.x_validation)
    reference = predict(alone.state, device_data.x_validation)
    np.testing.assert_allclose(ours - ours.mean(), reference - reference.mean(), rtol=0, atol=1e-4)


def test_a_member_trains_the_same_in_a_population_as_alone(
    breast_cancer_device: DeviceData, roc_auc_evaluator: Evaluator
) -> None:
    together = train(MEMBERS, breast_cancer_device, roc_auc_evaluator)
    assert [r.outcome for r in together] == [Outcome.COMPLETE] * len(MEMBERS)
    for member, result in zip(MEMBERS, together, strict=True):
        (alone,) = train([member], breast_cancer_device, roc_auc_evaluator)
        assert_same_training(result, alone, breast_cancer_device)
        assert result.score is not None
        assert 0.5 < result.score.value <= 1.0
    # Different configurations really are different models.
    first_layers = [r.state[0] for r in together if r.state is not None]
    for i, a in enumerate(first_layers):
        assert all(not torch.allclose(a, b) for b in first_layers[i + 1 :])


def test_a_diverging_member_fails_without_disturbing_the_others(
    breast_cancer_device: DeviceData, roc_auc_evaluator: Evaluator
) -> None:
    absurd = MemberConfig("cross_entropy", {}, 1e6, seed=99)
    members = [MEMBERS[0], absurd, MEMBERS[1], MEMBERS[2]]
    results = train(members, breast_cancer_device, roc_auc_evaluator)
    failed = results[1]
    assert failed.outcome is Outcome.FAILED
    assert failed.reason is not None
    assert failed.reason.startswith(("diverged", "collapsed")), failed.reason
    assert failed.score is None
    assert failed.epochs_trained == PLAN.eval_every  # caught at the first evaluation
    without = train([MEMBERS[0], MEMBERS[1], MEMBERS[2]], breast_cancer_device, roc_auc_evaluator)
    for together, alone in zip([results[0], *results[2:]], without, strict=True):
        assert_same_training(together, alone, breast_cancer_device)


class PruneAtFirstReport:
    """A monitor that records every report and prunes one member the first time it is seen."""

    def __init__(self, member: int) -> None:
        self.member = member
        self.reports: list[tuple[int, int, float]] = []

    def report(self, reports: Sequence[tuple[Hashable, int, float]]) -> set[Hashable]:
        for member, epoch, value in reports:
            assert isinstance(member, int)
            self.reports.append((member, epoch, value))
        return {member for member, _, _ in reports if member == self.member}


def test_a_pruned_member_stops_and_the_others_are_unchanged(
    breast_cancer_device: DeviceData, roc_auc_evaluator: Evaluator
) -> None:
    members = MEMBERS[:3]
    monitor = PruneAtFirstReport(member=1)
    results = train(members, breast_cancer_device, roc_auc_evaluator, monitor=monitor)
    pruned = results[1]
    assert pruned.outcome is Outcome.PRUNED
    assert pruned.epochs_trained == PLAN.eval_every
    assert pruned.score is not None
    assert [r for r in monitor.reports if r[0] == 1] == [(1, 2, pruned.score.value)]
    # Every live member is reported at every evaluation epoch, by its index in `members`.
    assert sorted((m, e) for m, e, _ in monitor.reports) == sorted(
        [(0, 2), (0, 4), (0, 6), (1, 2), (2, 2), (2, 4), (2, 6)]
    )
    without = train([members[0], members[2]], breast_cancer_device, roc_auc_evaluator)
    assert_same_training(results[0], without[0], breast_cancer_device)
    assert_same_training(results[2], without[1], breast_cancer_device)


def test_members_stop_after_patience_evaluations_without_improvement(
    breast_cancer: PreparedData, breast_cancer_device: DeviceData
) -> None:
    # Accuracy plateaus often, so members stall, recover and stall again.
    evaluator = Evaluator(get_metric("accuracy"), {}, breast_cancer)
    plan = TrainingPlan(batch_size=64, max_epochs=40, eval_every=2, patience=3)
    frozen = MemberConfig("cross_entropy", {}, 0.0, seed=3)  # learning rate 0: never improves
    learning = [
        MemberConfig("cross_entropy", {}, lr, seed=seed)
        for lr, seed in [(1e-3, 15), (3e-4, 1), (3e-3, 2), (1e-4, 3)]
    ]
    results = train([frozen, *learning], breast_cancer_device, evaluator, plan)
    assert results[0].outcome is Outcome.COMPLETE
    assert (results[0].best_epoch, results[0].epochs_trained) == (2, 8)
    assert sum(r.epochs_trained < plan.max_epochs for r in results) >= 2
    for result in results:
        assert result.outcome is Outcome.COMPLETE
        if result.epochs_trained < plan.max_epochs:
            # Stopped exactly `patience` evaluations after its best one.
            assert result.epochs_trained - result.best_epoch == plan.patience * plan.eval_every
        else:
            assert result.epochs_trained == plan.max_epochs


def test_a_staged_loss_gets_a_second_patience_when_it_stalls_in_its_first_stage(
    breast_cancer: PreparedData, breast_cancer_device: DeviceData
) -> None:
    # Learning rate 0: no member ever improves on its first evaluation. Cross-entropy stops
    # after one patience; LDAM-DRW starts its re-weighting stage instead (its deferred epoch,
    # 36 of 40, is far away) and stops after a second patience.
    evaluator = Evaluator(get_metric("accuracy"), {}, breast_cancer)
    plan = TrainingPlan(batch_size=64, max_epochs=40, eval_every=2, patience=3)
    ldam = {"max_margin": 0.5, "scale": 30.0, "defer": 0.9, "lr_factor": 0.01}
    members = [
        MemberConfig("cross_entropy", {}, 0.0, seed=3),
        MemberConfig("ldam_drw", ldam, 0.0, seed=3),
    ]
    plain, staged = train(members, breast_cancer_device, evaluator, plan)
    assert (plain.best_epoch, plain.epochs_trained) == (2, 8)
    assert (staged.best_epoch, staged.epochs_trained) == (2, 14)
    assert staged.outcome is Outcome.COMPLETE


def test_a_member_in_its_second_stage_trains_with_its_loss_s_learning_rate_factor(
    breast_cancer_device: DeviceData, roc_auc_evaluator: Evaluator
) -> None:
    plan = TrainingPlan(batch_size=64, max_epochs=10, eval_every=1, patience=10)
    trainer = PopulationTrainer(breast_cancer_device, roc_auc_evaluator, plan)
    ldam = {"max_margin": 0.5, "scale": 30.0, "defer": 0.2, "lr_factor": 0.01}
    trainer.add("ldam", MemberConfig("ldam_drw", ldam, 1e-3, seed=1))
    trainer.add("ce", MemberConfig("cross_entropy", {}, 1e-3, seed=2))
    (group,) = trainer.groups.values()
    rates = []
    for _ in range(3):  # re-weighting starts after epoch round(0.2 * 10) = 2
        trainer.run_epoch()
        population = group.population
        rates.append(
            dict(zip(population.keys, population.optimizer.rates_in_use.tolist(), strict=True))
        )
    assert [r["ldam"] for r in rates] == pytest.approx([1e-3, 1e-3, 1e-5])
    assert [r["ce"] for r in rates] == pytest.approx([1e-3, 1e-3, 1e-3])


def test_a_stalled_member_drops_its_learning_rate_once_then_gets_a_full_patience(
    breast_cancer: PreparedData, breast_cancer_device: DeviceData
) -> None:
    # Reduce-on-plateau: learning rate 0 never improves after the first evaluation (epoch 2).
    # Half a patience (2 evaluations) later the rate drops; a full patience (4) later it ends.
    evaluator = Evaluator(get_metric("accuracy"), {}, breast_cancer)
    plan = TrainingPlan(batch_size=64, max_epochs=40, eval_every=2, patience=4)
    dropping = TrainingPlan(
        batch_size=64, max_epochs=40, eval_every=2, patience=4, learning_rate_drops=1
    )
    frozen = MemberConfig("cross_entropy", {}, 0.0, seed=3)
    (without,) = train([frozen], breast_cancer_device, evaluator, plan)
    (with_drop,) = train([frozen], breast_cancer_device, evaluator, dropping)
    assert (without.best_epoch, without.epochs_trained) == (2, 2 + 4 * 2)
    assert (with_drop.best_epoch, with_drop.epochs_trained) == (2, 2 + (2 + 4) * 2)


def test_the_drop_scales_the_stalled_member_s_rate_and_a_staged_loss_takes_its_stage_instead(
    breast_cancer: PreparedData, breast_cancer_device: DeviceData
) -> None:
    # A learning rate of 1e-9 moves no validation prediction: both members stall after their
    # first evaluation. After half a patience the plain member's rate drops tenfold; LDAM-DRW
    # starts its re-weighting stage (its own factor, 0.01) and takes no plateau drop on top.
    evaluator = Evaluator(get_metric("accuracy"), {}, breast_cancer)
    plan = TrainingPlan(
        batch_size=64, max_epochs=30, eval_every=1, patience=4, learning_rate_drops=1
    )
    trainer = PopulationTrainer(breast_cancer_device, evaluator, plan)
    ldam = {"max_margin": 0.5, "scale": 30.0, "defer": 0.9, "lr_factor": 0.01}
    trainer.add("plain", MemberConfig("cross_entropy", {}, 1e-9, seed=3))
    trainer.add("staged", MemberConfig("ldam_drw", ldam, 1e-9, seed=2))
    (group,) = trainer.groups.values()
    rates: list[dict[Hashable, float]] = []
    ended: dict[Hashable, MemberResult] = {}
    while trainer.size:
        ended.update(trainer.run_epoch())
        population = group.population
        multipliers = population.optimizer.rates_in_use.tolist()
        rates.append(dict(zip(population.keys, multipliers, strict=True)))
    # Best at evaluation 1; stale at 2 and 3: the restart happens at the end of epoch 3.
    assert rates[1] == pytest.approx({"plain": 1e-9, "staged": 1e-9})
    assert rates[3]["plain"] == pytest.approx(1e-10)
    assert rates[3]["staged"] == pytest.approx(1e-11)
    assert (ended["plain"].best_epoch, ended["plain"].epochs_trained) == (1, 1 + 2 + 4)
    assert (ended["staged"].best_epoch, ended["staged"].epochs_trained) == (1, 1 + 2 + 4)
    assert all(r.outcome is Outcome.COMPLETE for r in ended.values())


def test_kept_state_is_the_best_evaluation_and_reproduces_its_score(
    breast_cancer_device: DeviceData, roc_auc_evaluator: Evaluator
) -> None:
    (result,) = train_population(
        [MEMBERS[0]], breast_cancer_device, roc_auc_evaluator, PLAN, keep_states=True
    )
    assert result.state is not None
    assert result.score is not None
    outputs = predict(result.state, breast_cancer_device.x_validation)
    assert roc_auc_evaluator.score_validation(outputs).value == result.score.value


# --- members joining a running population ------------------------------------------------------


def test_a_member_that_joins_later_trains_as_it_would_alone(
    breast_cancer_device: DeviceData, roc_auc_evaluator: Evaluator
) -> None:
    """Joining mid-run changes nothing for the newcomer or for those already training: each
    counts its own epochs and optimiser steps, and draws its own data order."""
    plan = TrainingPlan(batch_size=64, max_epochs=8, eval_every=2, patience=4)
    early, late = MEMBERS[1], MEMBERS[3]  # focal, and a mixture whose warm-up counts epochs
    trainer = PopulationTrainer(breast_cancer_device, roc_auc_evaluator, plan, keep_states=True)
    trainer.add("early", early)
    results: dict[Hashable, MemberResult] = {}
    results.update(trainer.run_epoch())
    results.update(trainer.run_epoch())
    results.update(trainer.run_epoch())
    trainer.add("late", late)  # joins at epoch 4 of the first member
    while trainer.size:
        results.update(trainer.run_epoch())
    for key, member in (("early", early), ("late", late)):
        [alone] = train_population(
            [member], breast_cancer_device, roc_auc_evaluator, plan, keep_states=True
        )
        assert_same_training(results[key], alone, breast_cancer_device)


def test_a_population_refills_as_members_finish(
    breast_cancer_device: DeviceData, roc_auc_evaluator: Evaluator
) -> None:
    plan = TrainingPlan(batch_size=64, max_epochs=4, eval_every=1, patience=10)
    trainer = PopulationTrainer(breast_cancer_device, roc_auc_evaluator, plan)
    queue = [MemberConfig("cross_entropy", {}, 1e-3, seed=s) for s in range(6)]
    finished: list[Hashable] = []
    epochs, next_key = 0, 0
    while queue or trainer.size:
        while queue and trainer.size < 2:  # capacity of two
            trainer.add(next_key, queue.pop())
            next_key += 1
        finished += [key for key, _ in trainer.run_epoch()]
        epochs += 1
    assert len(finished) == 6
    assert epochs == 12  # three waves of two members, four epochs each, never idle


FUSED = [
    MemberConfig("cross_entropy", {}, 3e-3, seed=20),
    MemberConfig("class_weighted_ce", {"power": 0.5}, 3e-3, seed=21),
    MemberConfig("focal", {"gamma": 1.5, "alpha": 0.6}, 1e-2, seed=22),
    MemberConfig("logit_adjusted", {"tau": 1.0}, 5e-3, seed=23),
    MemberConfig("label_smoothing", {"epsilon": 0.1}, 3e-3, seed=24),
    MemberConfig("poly1", {"epsilon": 1.0}, 3e-3, seed=25),
    MemberConfig("class_balanced", {"one_minus_beta": 1e-3}, 3e-3, seed=26),
]


def test_members_of_the_sigmoid_cross_entropies_share_one_block_and_train_as_alone(
    breast_cancer_device: DeviceData, roc_auc_evaluator: Evaluator
) -> None:
    context = breast_cancer_device.loss_context(PLAN, roc_auc_evaluator)
    population = Population(breast_cancer_device.shape, context, PLAN.weight_decay)
    population.add(list(enumerate(FUSED)))
    assert [block.name for block in population.blocks] == ["sigmoid_cross_entropies"]
    together = train(FUSED, breast_cancer_device, roc_auc_evaluator)
    for member, result in zip(FUSED, together, strict=True):
        (alone,) = train([member], breast_cancer_device, roc_auc_evaluator)
        assert_same_training(result, alone, breast_cancer_device)


F_SCORES = [
    MemberConfig("soft_f1", {}, 3e-3, seed=31),
    MemberConfig("sigmoid_f1", {"slope": 2.0, "offset": 0.5}, 3e-3, seed=32),
    MemberConfig("sigmoid_f1_prob", {"S": -10.0, "E": -0.5}, 3e-3, seed=33),
    MemberConfig("mixed_soft_f1", {"lam": 0.5, "warmup": 0.1}, 3e-3, seed=34),
    MemberConfig(
        "mixed_sigmoid_f1", {"slope": 2.0, "offset": 0.5, "lam": 0.3, "warmup": 0.2}, 3e-3, seed=35
    ),
    MemberConfig("tversky", {"alpha": 0.3, "beta": 0.7}, 3e-3, seed=36),
    MemberConfig("focal_tversky", {"alpha": 0.3, "beta": 0.7, "gamma": 1.5}, 3e-3, seed=37),
    MemberConfig(
        "mixed_tversky", {"alpha": 0.5, "beta": 0.5, "lam": 0.5, "warmup": 0.1}, 3e-3, seed=38
    ),
    MemberConfig(
        "mixed_focal_tversky",
        {"alpha": 0.5, "beta": 0.5, "gamma": 2.0, "lam": 0.5, "warmup": 0.1},
        3e-3,
        seed=39,
    ),
]


def test_surrogates_of_one_form_and_their_mixtures_share_blocks_and_train_as_alone(
    breast_cancer_device: DeviceData, roc_auc_evaluator: Evaluator
) -> None:
    context = breast_cancer_device.loss_context(PLAN, roc_auc_evaluator)
    population = Population(breast_cancer_device.shape, context, PLAN.weight_decay)
    population.add(list(enumerate(F_SCORES)))
    assert [block.name for block in population.blocks] == [
        "sigmoid_f_beta",
        "mixed_sigmoid_f_beta",
        "tversky",
        "mixed_tversky",
    ]
    together = train(F_SCORES, breast_cancer_device, roc_auc_evaluator)
    for member, result in zip(F_SCORES, together, strict=True):
        (alone,) = train([member], breast_cancer_device, roc_auc_evaluator)
        assert_same_training(result, alone, breast_cancer_device)
