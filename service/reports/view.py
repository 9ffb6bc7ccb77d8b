"""What the report page shows, decided from the JSON report: which setups it puts side by side
(never the baseline against itself), the verdict line, and the names of classes and labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.numbers import smallest
from service.wording import verdict_headline
from workers.engine.results import Verdict

# The verdicts under which the returned setup is a real candidate, different from the baseline,
# with a test comparison worth drawing. Under the others the baseline is the answer (baseline_led,
# not_reliable: the result's winner *is* the baseline) or there is nothing to compare with.
TWO_SETUPS = {Verdict.BEATS_BASELINE, Verdict.WORSE_ON_TEST, Verdict.INCONCLUSIVE}


@dataclass(frozen=True)
class ResultRow:
    """One row of the result table: a setup and what the page calls it."""

    role: str
    setup: dict[str, Any]


def verdict(report: dict[str, Any]) -> Verdict | None:
    """The comparison's verdict of a final report; None while there is none."""
    comparison = report.get("comparison")
    if not report["final"] or not comparison:
        return None
    return Verdict(comparison["verdict"])


def keeps_baseline(report: dict[str, Any]) -> bool:
    """Whether the answer is to keep the baseline (every final verdict but beats_baseline)."""
    found = verdict(report)
    return found is not None and found is not Verdict.BEATS_BASELINE


def _is_baseline(setup: dict[str, Any] | None, baseline: dict[str, Any] | None) -> bool:
    return (
        setup is not None
        and baseline is not None
        and setup["trial_number"] == baseline["trial_number"]
    )


def compares_two_setups(report: dict[str, Any]) -> bool:
    """Whether a winner-versus-baseline comparison on test is worth drawing: two different
    setups and a test lift with an interval."""
    winner, baseline = report.get("winner"), report.get("baseline")
    return (
        verdict(report) in TWO_SETUPS
        and baseline is not None
        and not _is_baseline(winner, baseline)
        and bool((report.get("comparison") or {}).get("test_lift_interval"))
    )


def result_rows(report: dict[str, Any]) -> list[ResultRow]:
    """The setups of the result table, each named for what the verdict made of it."""
    winner, baseline = report.get("winner"), report.get("baseline")
    found = verdict(report)
    if winner is None:
        return []
    if found is None:  # the search is running: the best so far
        rows = [ResultRow("best so far", winner)]
        return rows + ([ResultRow("baseline", baseline)] if baseline else [])
    if _is_baseline(winner, baseline):  # baseline_led, not_reliable: one setup, the baseline
        return [ResultRow("baseline: keep it", winner)]
    if found is Verdict.BEATS_BASELINE:
        role = "winner"
    elif found is Verdict.NO_BASELINE:
        role = "best found (not compared)"
    else:
        role = "tried, not recommended"
    rows = [ResultRow(role, winner)]
    if baseline is not None:
        rows.append(ResultRow("baseline" + ("" if role == "winner" else ": keep it"), baseline))
    return rows


def headline(report: dict[str, Any]) -> str | None:
    """The verdict in one line: use the winner, or keep the baseline and why."""
    found = verdict(report)
    if found is None or report.get("winner") is None:
        return None
    winner = report["winner"]
    baseline = report.get("baseline")
    leader = (report["comparison"].get("leader") or {}).get("loss") or winner["loss"]
    baseline_loss = baseline["loss"] if baseline else "the baseline"
    return verdict_headline(found, winner["loss"], baseline_loss, leader)


def leader_not_returned(report: dict[str, Any]) -> dict[str, Any] | None:
    """The finalist that led on validation but was not returned (not_reliable), if any."""
    if verdict(report) is not Verdict.NOT_RELIABLE or not report.get("confirmation"):
        return None
    number = report["confirmation"]["leader_trial_number"]
    for finalist in report["confirmation"]["finalists"]:
        if finalist["trial_number"] == number:
            return dict(finalist)
    return None


def validation_scale(report: dict[str, Any]) -> float | None:
    """The spread of the validation metric over seeds (the smallest any retrained setup had):
    the precision that single validation values (trials, finalists) are shown to."""
    spreads = [(report.get(key) or {}).get("validation_std") for key in ("winner", "baseline")]
    confirmation = report.get("confirmation") or {}
    spreads += [f.get("validation_std") for f in confirmation.get("finalists", [])]
    return smallest(spreads)


def class_names(report: dict[str, Any]) -> list[str]:
    """The classes in the order the model's outputs are (the encoding sorts the labels:
    numerically when they are all numbers), whatever order the stored counts came back in."""
    counts = (report.get("dataset") or {}).get("class_counts") or {}
    names = list(counts)
    try:
        return sorted(names, key=float)
    except ValueError:
        return sorted(names)


def label_names(report: dict[str, Any], count: int) -> list[str]:
    """The names of ``count`` outputs: the target columns of a multilabel job, else classes."""
    target = list(report["search"]["spec"].get("target") or [])
    names = target if len(target) == count else class_names(report)
    return names if len(names) == count else [f"output {i}" for i in range(count)]
