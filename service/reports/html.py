"""The report for a person: the JSON report rendered as one self-contained HTML page.

Every metric value on the page goes through :mod:`service.numbers`, so it is shown to the
precision its interval or its seeds' spread supports; the JSON report keeps full precision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from service import numbers
from service.reports import view
from service.schemas.reports import ReportOut

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
STATES = ("complete", "pruned", "failed", "lost", "running", "waiting")


def plain(value: object) -> str:
    """A setting as a person reads it: no ``None``/``True``, floats to four digits."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return numbers.number(value)
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value) or "—"
    return str(value)


def label(key: str) -> str:
    """A field name as a table heading: ``split_rows`` → ``split rows``."""
    return key.replace("_", " ")


def _parameters(params: dict[str, Any]) -> str:
    return ", ".join(f"{name} {plain(value)}" for name, value in params.items()) or "no parameters"


_TEMPLATES.filters.update(plain=plain, label=label)
_TEMPLATES.globals.update(
    number=numbers.number,
    estimate=numbers.estimate,
    interval=numbers.interval,
    mean_std=numbers.mean_std,
    probability=numbers.probability,
    half_width=numbers.half_width,
    params=_parameters,
    plain=plain,
    states=STATES,
)


def render_report(report: ReportOut) -> str:
    """The page: verdict, result table, figures (embedded PNG), trials, data, code, settings."""
    # matplotlib is imported on the first report page, not when the API starts: it costs about
    # a second and tens of MB that pollers never need.
    from service.reports.plots import render_all

    content = report.model_dump(mode="json")  # the template and the plots read plain data
    scale = view.validation_scale(content)
    two_setups = view.compares_two_setups(content)
    template = _TEMPLATES.get_template("report.html")
    return template.render(
        report=content,
        figures=render_all(content, validation_scale=scale, compare=two_setups),
        headline=view.headline(content),
        keeps_baseline=view.keeps_baseline(content),
        two_setups=two_setups,
        rows=view.result_rows(content),
        leader_not_returned=view.leader_not_returned(content),
        vscale=scale,
        classes=view.class_names(content),
        outputs=lambda count: view.label_names(content, count),
    )
