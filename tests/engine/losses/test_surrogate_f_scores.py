"""F-score surrogates, soft_f1 and sigmoid_f1: exact values on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from tests.engine.losses.harness import LN2, LN3, build, t
from workers.engine.spec import Task

# p = sigmoid(0, ln 3, -ln 3) = (1/2, 3/4, 1/4) with y = (1, 0, 1):
# tp = 1/2 + 1/4 = 3/4, fp = 3/4, fn = 1/2 + 3/4 = 5/4.
LOGITS, TARGETS = t([[0.0, LN3, -LN3]]), t([[1.0, 0.0, 1.0]])


def test_soft_f1_binary_uses_probabilities_as_confusion_counts() -> None:
    # F1 = 2tp / (2tp + fp + fn) = 1.5 / 3.5 = 3/7.
    loss = build("soft_f1", Task.BINARY)
    assert loss(LOGITS, TARGETS).item() == pytest.approx(1.0 - 3.0 / 7.0, abs=1e-6)


def test_soft_f1_takes_beta_from_an_fbeta_metric() -> None:
    # beta = 2: 5 tp / (5 tp + 4 fn + fp) = 3.75 / (3.75 + 5 + 0.75) = 15/38.
    loss = build("soft_f1", Task.BINARY, metric="fbeta", metric_params={"beta": 2.0})
    assert loss(LOGITS, TARGETS).item() == pytest.approx(1.0 - 15.0 / 38.0, abs=1e-6)


def test_soft_f1_multiclass_is_one_minus_soft_macro_f1_over_every_class() -> None:
    # Rows (1/2, 1/4, 1/4) with y=0 and (1/3, 1/3, 1/3) with y=1.
    # Class 0: tp 1/2, fp 1/3, fn 1/2 -> 6/11. Class 1: tp 1/3, fp 1/4, fn 2/3 -> 8/19.
    # Class 2 has no positives: F1 0, and it still counts in the mean.
    loss = build("soft_f1", Task.MULTICLASS, class_counts=[10.0, 10.0, 10.0])
    outputs = torch.tensor([[[LN2, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    value = loss(outputs, torch.tensor([[0, 1]]))
    assert value.item() == pytest.approx(1.0 - (6.0 / 11.0 + 8.0 / 19.0) / 3.0, abs=1e-6)


def test_soft_f1_multilabel_averages_the_labels() -> None:
    # Label 0 is the binary case above (3/7); label 1 is predicted 1/2 on its one positive
    # and 3/4, 1/4 on its negatives: tp 1/2, fp 1, fn 1/2 -> 1 / 2.5 = 2/5.
    loss = build("soft_f1", Task.MULTILABEL, class_counts=[10.0, 10.0])
    outputs = torch.tensor([[[0.0, 0.0], [LN3, LN3], [-LN3, -LN3]]])
    targets = torch.tensor([[[1.0, 1.0], [0.0, 0.0], [1.0, 0.0]]])
    assert loss(outputs, targets).item() == pytest.approx(1.0 - (3.0 / 7.0 + 0.4) / 2, abs=1e-6)


@pytest.mark.parametrize(
    ("metric", "soft_f"),
    [
        ("macro_f1", (3.0 / 7.0 + 0.4) / 2),
        # Counts pooled over both labels: tp 5/4, fp 7/4, fn 7/4.
        ("micro_f1", 2.5 / 6.0),
        # Per example: (1, 1) at 1/2 each -> 2/3; no positives -> 0; (1, 0) at 1/4 -> 1/3.
        ("samples_f1", (2.0 / 3.0 + 0.0 + 1.0 / 3.0) / 3),
        # Label 0 has two positives, label 1 one.
        ("weighted_f1", (2 * 3.0 / 7.0 + 0.4) / 3),
    ],
)
def test_soft_f1_averages_over_labels_as_its_metric_does(metric: str, soft_f: float) -> None:
    # The labels of the multilabel case above: 3/7 and 2/5 per label.
    loss = build("soft_f1", Task.MULTILABEL, class_counts=[10.0, 10.0], metric=metric)
    outputs = torch.tensor([[[0.0, 0.0], [LN3, LN3], [-LN3, -LN3]]])
    targets = torch.tensor([[[1.0, 1.0], [0.0, 0.0], [1.0, 0.0]]])
    assert loss(outputs, targets).item() == pytest.approx(1.0 - soft_f, abs=1e-6)
    steep = build(
        "sigmoid_f1",
        Task.MULTILABEL,
        {"slope": [1.0], "offset": [0.0]},
        class_counts=[10.0, 10.0],
        metric=metric,
    )
    assert steep(outputs, targets).item() == pytest.approx(1.0 - soft_f, abs=1e-6)


def test_soft_f1_of_a_batch_without_positives_is_one_with_no_gradient() -> None:
    loss = build("soft_f1", Task.BINARY)
    outputs = torch.tensor([[-2.0, 0.0, 1.0]], requires_grad=True)
    value = loss(outputs, torch.zeros(1, 3))
    assert value.item() == pytest.approx(1.0)
    value.sum().backward()
    assert outputs.grad is not None
    assert torch.count_nonzero(outputs.grad) == 0


def test_sigmoid_f1_applies_slope_and_offset_to_the_logits() -> None:
    # slope 2, offset 1/2: logits chosen so slope * (u + offset) = (0, ln 3, -ln 3), i.e. the
    # probabilities of the soft-F1 case: 1 - 3/7.
    loss = build("sigmoid_f1", Task.BINARY, {"slope": [2.0], "offset": [0.5]})
    outputs = t([[-0.5, LN3 / 2 - 0.5, -LN3 / 2 - 0.5]])
    assert loss(outputs, TARGETS).item() == pytest.approx(1.0 - 3.0 / 7.0, abs=1e-6)


def test_sigmoid_f1_with_slope_one_and_no_offset_is_soft_f1() -> None:
    outputs = torch.randn(2, 16, 3, generator=torch.Generator().manual_seed(0))
    targets = (torch.rand(2, 16, 3, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    plain = build("soft_f1", Task.MULTILABEL)(outputs, targets)
    sigmoid = build("sigmoid_f1", Task.MULTILABEL, {"slope": [1.0, 1.0], "offset": [0.0, 0.0]})
    torch.testing.assert_close(sigmoid(outputs, targets), plain)


def test_sigmoid_f1_multiclass_scores_each_class_one_vs_rest_without_softmax() -> None:
    # Sigmoids of rows (0, ln 3) with y=0 and (-ln 3, 0) with y=1: (1/2, 3/4) and (1/4, 1/2).
    # Class 0: tp 1/2, fp 1/4, fn 1/2 -> 4/7. Class 1: tp 1/2, fp 3/4, fn 1/2 -> 4/9.
    loss = build(
        "sigmoid_f1", Task.MULTICLASS, {"slope": [1.0], "offset": [0.0]}, class_counts=[5.0, 5.0]
    )
    outputs = torch.tensor([[[0.0, LN3], [-LN3, 0.0]]])
    value = loss(outputs, torch.tensor([[0, 1]]))
    assert value.item() == pytest.approx(1.0 - (4.0 / 7.0 + 4.0 / 9.0) / 2, abs=1e-6)


def test_a_steep_sigmoid_f1_is_hard_f1_with_the_threshold_at_minus_offset() -> None:
    # Logits (1, -1, 1, 1), y = (1, 1, 0, 1). Threshold 0: predictions (1, 0, 1, 1), tp 2,
    # fp 1, fn 1, F1 = 2/3. Offset 2 moves the threshold to -2: all positive, F1 = 6/7.
    loss = build("sigmoid_f1", Task.BINARY, {"slope": [30.0, 30.0], "offset": [0.0, 2.0]})
    outputs = t([[1.0, -1.0, 1.0, 1.0]] * 2)
    value = loss(outputs, t([[1.0, 1.0, 0.0, 1.0]] * 2))
    assert value.tolist() == pytest.approx([1.0 - 2.0 / 3.0, 1.0 - 6.0 / 7.0], abs=1e-6)
    assert math.isfinite(value.sum().item())


def test_sigmoid_f1_prob_applies_the_published_sigmoid_to_probabilities() -> None:
    # Binary, logits (0, ln 3) -> probabilities (1/2, 3/4), targets (1, 0); S = -1, E = 0:
    # S(p) = 1 / (1 + exp(-p)) = (sigmoid(1/2), sigmoid(3/4)); tp = S1, fp = S2, fn = 1 - S1.
    loss = build("sigmoid_f1_prob", Task.BINARY, {"S": [-1.0], "E": [0.0]})
    s1, s2 = 1.0 / (1.0 + math.exp(-0.5)), 1.0 / (1.0 + math.exp(-0.75))
    expected = 1.0 - 2 * s1 / (2 * s1 + (1.0 - s1) + s2)
    assert loss(t([[0.0, LN3]]), t([[1.0, 0.0]])).item() == pytest.approx(expected, abs=1e-6)


def test_sigmoid_f1_prob_at_the_published_setting_is_hard_f1_at_one_half() -> None:
    # S = -100, E = -0.5: a near step at p = 1/2. Probabilities (0.9, 0.2, 0.7) for targets
    # (1, 1, 0) decide (1, 0, 1): tp 1, fn 1, fp 1, hard F1 1/2.
    loss = build("sigmoid_f1_prob", Task.BINARY, {"S": [-100.0], "E": [-0.5]})
    logits = torch.logit(torch.tensor([[0.9, 0.2, 0.7]]))
    assert loss(logits, t([[1.0, 1.0, 0.0]])).item() == pytest.approx(0.5, abs=1e-3)
