"""Every sentence the service says about a job's result, in one place.

The engine's result holds numbers and a :class:`~workers.engine.results.Verdict`; ``/best``,
the report and its HTML page explain them to a person with the sentences below.
"""

from __future__ import annotations

from service.numbers import half_width, interval, number
from workers.engine.results import (
    Comparison,
    ConstraintCheck,
    FloorOnTest,
    Guardrail,
    SearchResult,
    Verdict,
)

KEEP = "That is a useful answer, not a failure."
SEARCH_RUNNING = (
    "The search has not finished: test metrics are computed for the final best setup and the "
    "baseline when it does."
)


def comparison_summary(result: SearchResult) -> str:
    """Plain sentences on what the search found against the baseline, and, for a constrained
    metric, whether the returned setup's floor held on test."""
    sentences = [_verdict_sentence(result)]
    if result.best.constraint is not None:
        sentences.append(constraint_sentence(result.best.constraint))
    worse = [g for g in result.comparison.guardrails if g.significantly_worse]
    if worse:
        sentences.append(guardrail_warning(result.best.loss, worse))
    return " ".join(sentences)


def guardrail_warning(loss: str, worse: list[Guardrail]) -> str:
    """A warning naming each secondary metric on which the returned setup is reliably worse."""
    figures = "; ".join(
        f"{g.metric} {number(g.winner, half_width(g.lift_interval))} vs "
        f"{number(g.baseline, half_width(g.lift_interval))} "
        f"(lift {_lift_figures(g.lift, g.lift_interval)})"
        for g in worse
    )
    return (
        f"Check before you ship it: on test, {loss} is reliably worse than the baseline on "
        f"{figures}."
    )


def constraint_sentence(check: ConstraintCheck) -> str:
    """Whether a constrained metric's floor held on test, with the figures."""
    low, high = check.test_interval
    figures = (
        f"{check.quantity} at the threshold chosen on validation was {check.test:.3g} on test "
        f"(95% interval [{low:.3g}, {high:.3g}])"
    )
    if check.on_test is FloorOnTest.HELD:
        return f"The {check.quantity} floor of {check.floor:g} held on test: {figures}."
    if check.on_test is FloorOnTest.UNCERTAIN:
        return (
            f"The {check.quantity} floor of {check.floor:g} may not hold on new data: {figures}, "
            "and the interval reaches below the floor."
        )
    return (
        f"The {check.quantity} floor of {check.floor:g} did NOT hold on test: {figures}. A "
        f"threshold that meets the floor on validation can miss it on new rows; raise the "
        f"metric's confidence parameter (how sure validation must be of the floor) or the floor, "
        f"or check {check.quantity} on your own data before relying on it."
    )


def _verdict_sentence(result: SearchResult) -> str:
    comparison, name = result.comparison, result.metric.name
    best, baseline = result.best, result.baseline
    baseline_loss = baseline.loss if baseline is not None else "the baseline"
    leader = comparison.leader.loss if comparison.leader is not None else best.loss
    verdict = comparison.verdict
    if verdict is Verdict.NO_BASELINE:
        return "The baseline did not complete on the confirmation seeds, so there is no comparison."
    if verdict is Verdict.BASELINE_LED:
        return (
            f"No loss beat the plain baseline ({baseline_loss}) on validation over the "
            f"confirmation seeds: keep the baseline loss. {KEEP}"
        )
    if verdict is Verdict.NOT_RELIABLE:
        return (
            f"{leader} had the best mean validation {name}, but its lift over the baseline "
            f"{_gate_figures(comparison)} is not reliably above zero, so the baseline "
            f"({baseline_loss}) is returned: keep it. {KEEP}"
        )
    lift = _lift_figures(comparison.test_lift or 0.0, comparison.test_lift_interval)
    if verdict is Verdict.BEATS_BASELINE:
        ours = number(best.test, half_width(best.test_interval))
        theirs = ours
        if baseline is not None and baseline.test is not None:
            theirs = number(baseline.test, half_width(baseline.test_interval))
        return (
            f"{best.loss} beats the baseline on test {name}: {ours} vs {theirs} "
            f"(lift {lift}; better in "
            f"{comparison.probability_better or 0.0:.0%} of resampled test sets)."
        )
    if verdict is Verdict.WORSE_ON_TEST:
        return (
            f"{best.loss} was reliably better on validation but is worse than the baseline on "
            f"test {name} (lift {lift}): keep the baseline."
        )
    return (
        f"The search found nothing reliably better than the baseline: {best.loss} was better on "
        f"validation, but its test {name} lift ({lift}) is not "
        "distinguishable from zero. Keep the baseline unless you have other reasons."
    )


def _lift_figures(lift: float, bounds: list[float] | None) -> str:
    """A lift and its 95% interval, signed, to the precision the interval supports."""
    if not bounds:
        return f"{number(lift, signed=True)}, 95% interval unknown"
    scale = half_width(bounds)
    return f"{number(lift, scale, signed=True)}, 95% interval {interval(bounds, signed=True)}"


def _gate_figures(comparison: Comparison) -> str:
    """Where and how much the leader beat the baseline in the gate, with its interval."""
    gate = comparison.gate
    if gate is None or gate.method == "validation":
        lift = comparison.validation_lift or 0.0
        low, high = comparison.validation_lift_interval or [float("nan"), float("nan")]
        where = "on validation"
    else:
        if gate.lift is None or gate.lift_interval is None:
            return (
                f"out of fold ({gate.folds} folds of the training rows) could not be measured: "
                f"a run diverged in every seed of a fold ({gate.failed_runs} failed runs), so it"
            )
        lift, (low, high) = gate.lift, gate.lift_interval
        where = (
            f"out of fold on the {gate.rows} training rows ({gate.folds} folds × "
            f"{gate.seeds_per_fold} seeds)"
        )
    return f"{where} ({_lift_figures(lift, [low, high])})"


def verdict_headline(verdict: Verdict, loss: str, baseline_loss: str, leader: str) -> str:
    """The report page's one-line verdict: use the returned loss, or keep the baseline and why.
    ``loss`` is the returned setup's, ``leader`` the best on validation over the seeds."""
    if verdict is Verdict.BEATS_BASELINE:
        return f"Use {loss}: it beats the baseline ({baseline_loss}) reliably on test."
    if verdict is Verdict.NO_BASELINE:
        return (
            "Keep the baseline (your current loss): the plain baseline did not complete on the "
            f"confirmation seeds, so nothing shows that {loss} beats it."
        )
    reasons = {
        Verdict.BASELINE_LED: "the baseline had the best mean validation metric over the "
        "confirmation seeds; no loss the search tried beat it.",
        Verdict.NOT_RELIABLE: f"{leader} led on validation, but the gate (run before any test "
        "figure was looked at) did not put its lift over the baseline reliably above zero, so "
        "it was not returned.",
        Verdict.WORSE_ON_TEST: f"{leader} passed the gate but is reliably worse than the "
        "baseline on test.",
        Verdict.INCONCLUSIVE: f"{leader} passed the gate but its lift on test cannot be told "
        "from zero.",
    }
    return f"Keep the baseline ({baseline_loss}): {reasons[verdict]}"


def failed(error: str | None) -> str:
    """The summary of a failed job."""
    return f"The job failed: {error}"


CANCELLED = "The job was cancelled; its completed trials are kept, but no result was confirmed."
RUNNING = "The search is still running: the winner and the test comparison come at the end."
