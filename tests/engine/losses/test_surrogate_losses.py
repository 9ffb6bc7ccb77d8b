"""The surrogate family as a whole: what each entry declares, and the generated mixtures.

Per-loss values live in ``test_surrogate_<kind>.py``; comparisons with maintained
implementations in ``test_references_surrogate.py``.
"""

from __future__ import annotations

import math

import pytest

from tests.engine.losses.harness import LN2, LN3, build, t
from workers.engine.losses import LOSSES, get_loss
from workers.engine.losses.catalogue.surrogate import SURROGATE_LOSSES
from workers.engine.metrics import METRICS
from workers.engine.spec import Family, Task

EXPECTED = {
    "soft_f1",
    "sigmoid_f1",
    "sigmoid_f1_prob",
    "soft_dice",
    "tversky",
    "focal_tversky",
    "lovasz_hinge",
    "lovasz_softmax",
    "soft_mcc",
    "soft_qwk",
    "pairwise_auc",
    "pairwise_auc_exp",
    "pairwise_auc_sqhinge",
    "smooth_ap",
    "auc_m",
    "eban_recall_at_precision",
    "eban_precision_at_recall",
    "r2_loss",
    "median_ae_loss",
    "soft_expected_cost",
}
# Surrogates whose value is a mean over examples, so the batch size need not be searched with them.
PER_EXAMPLE = {"soft_expected_cost"}


def test_the_surrogate_family_has_every_loss_and_its_mixture() -> None:
    names = {spec.name for spec in SURROGATE_LOSSES}
    assert names == EXPECTED
    for name in names:
        assert f"mixed_{name}" in LOSSES


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_surrogate_is_a_batch_statistic_or_an_example_mean_serving_its_metrics(
    name: str,
) -> None:
    spec = get_loss(name)
    assert spec.family is Family.SURROGATE
    assert spec.batch_level or name in PER_EXAMPLE
    assert spec.serves, "a surrogate names the metrics it stands in for"
    for metric in spec.serves:
        assert metric in METRICS, metric
        assert METRICS[metric].tasks & spec.tasks, (spec.name, metric)
    assert spec.reference.strip()


def test_the_constrained_losses_serve_exactly_their_metric() -> None:
    assert get_loss("eban_recall_at_precision").serves == frozenset({"recall_at_precision"})
    assert get_loss("eban_precision_at_recall").serves == frozenset({"precision_at_recall"})


def test_mixed_soft_f1_is_lam_cross_entropy_plus_rest_soft_f1_after_the_warmup() -> None:
    # p = (1/2, 3/4, 1/4), y = (1, 0, 1): CE terms ln 2, ln 4, ln 4, so CE = 5/3 ln 2; soft F1
    # 3/7. warmup 0.2 of MAX_EPOCHS (10) = 2 epochs on cross-entropy alone, the mix from epoch 3.
    loss = build("mixed_soft_f1", Task.BINARY, {"lam": [0.25], "warmup": [0.2]})
    outputs, targets = t([[0.0, LN3, -LN3]]), t([[1.0, 0.0, 1.0]])
    cross_entropy = 5.0 / 3.0 * LN2
    for epoch in (1, 2):
        loss.start_epoch(epoch)
        assert loss(outputs, targets).item() == pytest.approx(cross_entropy, abs=1e-6)
    loss.start_epoch(3)
    expected = 0.25 * cross_entropy + 0.75 * (1.0 - 3.0 / 7.0)
    assert loss(outputs, targets).item() == pytest.approx(expected, abs=1e-6)


def test_mixed_pairwise_auc_is_lam_cross_entropy_plus_rest_pairwise() -> None:
    # Outputs (ln 3, 0), y = (1, 0): CE = (-ln(3/4) + ln 2)/2; one pair with margin ln 3.
    loss = build("mixed_pairwise_auc", Task.BINARY, {"lam": [0.5], "warmup": [0.0]})
    loss.start_epoch(1)
    value = loss(t([[LN3, 0.0]]), t([[1.0, 0.0]]))
    cross_entropy = (math.log(4.0 / 3.0) + LN2) / 2
    pairwise = math.log1p(1.0 / 3.0)
    assert value.item() == pytest.approx(0.5 * cross_entropy + 0.5 * pairwise, rel=1e-6)


def test_mixed_r2_loss_mixes_with_mean_squared_error() -> None:
    # y = (1, 3, 2), f = (1, 2, 2): MSE 1/3, 1 - R^2 = 1/2.
    loss = build("mixed_r2_loss", Task.REGRESSION, {"lam": [0.5], "warmup": [0.0]})
    loss.start_epoch(1)
    value = loss(t([[1.0, 2.0, 2.0]]), t([[1.0, 3.0, 2.0]]))
    assert value.item() == pytest.approx(0.5 / 3.0 + 0.25, rel=1e-6)
