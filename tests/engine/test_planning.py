"""Planning fills in what a spec leaves out, from its data and its metric."""

from __future__ import annotations

from workers.engine.planning import plan_search
from workers.engine.spec import Family, JobSpec, MetricRef, Task


def _planned(**fields: object) -> JobSpec:
    return plan_search(JobSpec.model_validate({"dataset": "builtin:diabetes", **fields}))


def test_the_pinball_loss_targets_the_pinball_metrics_quantile() -> None:
    spec = _planned(metric={"name": "pinball", "params": {"quantile": 0.99}})
    assert spec.task is Task.REGRESSION
    assert spec.params == {"pinball": {"tau": 0.99}}


def test_a_tau_the_caller_gave_is_kept() -> None:
    spec = _planned(
        metric={"name": "pinball", "params": {"quantile": 0.9}},
        params={"pinball": {"tau": [0.5, 0.95]}, "training": {"learning_rate": 0.001}},
    )
    assert spec.params == {"pinball": {"tau": [0.5, 0.95]}, "training": {"learning_rate": 0.001}}


def test_no_tau_is_implied_where_pinball_is_not_searched_or_not_the_metric() -> None:
    assert _planned(metric="mae").params is None
    without_pinball = _planned(metric="pinball", losses=["mae", "huber"])
    assert without_pinball.params is None
    assert without_pinball.metric == MetricRef(name="pinball", params={"quantile": 0.5})
    assert without_pinball.families == list(Family)
