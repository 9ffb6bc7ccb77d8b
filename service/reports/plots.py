"""The report's figures, drawn server-side with matplotlib and embedded as PNG data."""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from service.numbers import number

FAMILY_COLOURS = {"proxy": "#4C72B0", "weighted": "#DD8452", "surrogate": "#55A868"}
MAX_PARAMETER_PANELS = 6


def render_all(
    report: dict[str, Any], *, validation_scale: float | None = None, compare: bool = False
) -> dict[str, str]:
    """Every figure the report has data for, as ``data:image/png;base64,...`` URLs.

    ``validation_scale`` is the seeds' spread the bar labels are rounded to; ``compare`` draws
    the returned setup against the baseline on test (only when they are two different setups:
    never the baseline against itself)."""
    figures: dict[str, str] = {}
    history = report["trials"]["history"]
    metric = report["metric"]["name"]
    if any(entry["value"] is not None for entry in history):
        figures["history"] = _encode(_history(history, metric))
        best = report["trials"]["best_per_family"]
        figures["families"] = _encode(_families(best, metric, validation_scale))
        parameters = _parameters(history, metric)
        if parameters is not None:
            figures["parameters"] = _encode(parameters)
    comparison = report.get("comparison") or {}
    winner, baseline = report.get("winner"), report.get("baseline")
    if compare and winner and baseline and comparison.get("test_lift_interval"):
        returned = comparison.get("verdict") == "beats_baseline"
        figures["lift"] = _encode(_lift(winner, baseline, comparison, metric, returned))
    return figures


def _encode(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _history(history: list[dict[str, Any]], metric: str) -> Figure:
    figure, axes = plt.subplots(figsize=(7, 3.6))
    for family, colour in FAMILY_COLOURS.items():
        points = [
            (h["number"], h["value"])
            for h in history
            if h["family"] == family and h["value"] is not None
        ]
        if points:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            axes.scatter(xs, ys, s=14, color=colour, label=family, alpha=0.8)
    steps = [(h["number"], h["best_so_far"]) for h in history if h["best_so_far"] is not None]
    if steps:
        axes.step(
            *zip(*steps, strict=True),
            where="post",
            color="black",
            linewidth=1.2,
            label="best so far",
        )
    axes.set_xlabel("trial")
    axes.set_ylabel(f"validation {metric}")
    axes.set_title("Optimisation history (completed trials)")
    axes.legend(fontsize=8, loc="best")
    return figure


def _families(
    best_per_family: dict[str, dict[str, Any]], metric: str, scale: float | None
) -> Figure:
    figure, axes = plt.subplots(figsize=(7, 0.6 + 0.55 * max(len(best_per_family), 1)))
    names = list(best_per_family)
    values = [best_per_family[n]["validation"] for n in names]
    labels = [f"{n}\n({best_per_family[n]['loss']})" for n in names]
    axes.barh(labels, values, color=[FAMILY_COLOURS.get(n, "#8172B3") for n in names])
    for index, value in enumerate(values):
        axes.text(value, index, f" {number(value, scale)}", va="center", fontsize=8)
    low = min(values) if values else 0.0
    axes.set_xlim(left=low - 0.05 * (abs(low) + 1e-9))
    axes.set_xlabel(f"best validation {metric}")
    axes.set_title("Best trial per loss family")
    return figure


def _lift(
    winner: dict[str, Any],
    baseline: dict[str, Any],
    comparison: dict[str, Any],
    metric: str,
    returned: bool,
) -> Figure:
    figure, (arms, lift) = plt.subplots(
        1, 2, figsize=(8, 2.8), gridspec_kw={"width_ratios": [2, 1]}
    )
    role = "winner" if returned else "tried, not recommended"
    rows = [("baseline\n" + baseline["loss"], baseline), (f"{role}\n" + winner["loss"], winner)]
    for index, (_, setup) in enumerate(rows):
        low, high = setup["test_interval"] or (setup["test"], setup["test"])
        arms.errorbar(
            setup["test"],
            index,
            xerr=[[setup["test"] - low], [high - setup["test"]]],
            fmt="o",
            capsize=4,
            color="black",
        )
    arms.set_yticks(range(len(rows)), [label for label, _ in rows])
    arms.set_ylim(-0.6, len(rows) - 0.4)  # the two setups close together, not at the edges
    arms.set_xlabel(f"test {metric} (mean over seeds, 95% interval)")
    low, high = comparison["test_lift_interval"]
    mean = comparison["test_lift"]
    lift.errorbar(mean, 0, xerr=[[mean - low], [high - mean]], fmt="o", capsize=4, color="#C44E52")
    lift.axvline(0.0, color="grey", linestyle="--", linewidth=1)
    lift.set_yticks([])
    lift.set_xlabel("lift over baseline (better > 0)")
    figure.suptitle(
        "Winner versus baseline on test"
        if returned
        else "Tried, not recommended: " + winner["loss"] + " versus the baseline on test"
    )
    return figure


def _parameters(history: list[dict[str, Any]], metric: str) -> Figure | None:
    """Validation metric against each searched parameter, for the most tried losses."""
    points: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for entry in history:
        if entry["value"] is None:
            continue
        for name, value in entry["loss_params"].items():
            points[(entry["loss"], name)].append((float(value), float(entry["value"])))
    panels = sorted(points.items(), key=lambda kv: -len(kv[1]))[:MAX_PARAMETER_PANELS]
    panels = [(key, values) for key, values in panels if len(values) >= 2]
    if not panels:
        return None
    columns = min(3, len(panels))
    rows = (len(panels) + columns - 1) // columns
    figure, grid = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    for axes in grid.flat[len(panels) :]:
        axes.set_visible(False)
    for axes, ((loss, name), values) in zip(grid.flat, panels, strict=False):
        axes.scatter([v[0] for v in values], [v[1] for v in values], s=12, color="#4C72B0")
        axes.set_title(f"{loss}", fontsize=9)
        axes.set_xlabel(name, fontsize=8)
        axes.set_ylabel(metric, fontsize=8)
        axes.tick_params(labelsize=7)
        axes.xaxis.set_major_locator(MaxNLocator(4))
    figure.suptitle("Parameters of the most tried losses (completed trials)")
    figure.tight_layout()
    return figure
