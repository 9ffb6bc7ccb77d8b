"""The report for a person: the JSON report rendered as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from service.schemas.reports import ReportOut

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
STATES = ("complete", "pruned", "failed", "lost", "running", "waiting")


def _format(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _parameters(params: dict[str, Any]) -> str:
    return (
        ", ".join(f"{name} {_format(value)}" for name, value in params.items()) or "no parameters"
    )


def render_report(report: ReportOut) -> str:
    """The page: summary, result table, figures (embedded PNG), trials, data, code, settings."""
    # matplotlib is imported on the first report page, not when the API starts: it costs about
    # a second and tens of MB that pollers never need.
    from service.reports.plots import render_all

    content = report.model_dump(mode="json")  # the template and the plots read plain data
    template = _TEMPLATES.get_template("report.html")
    return template.render(
        report=content,
        figures=render_all(content),
        states=STATES,
        fmt=_format,
        params=_parameters,
    )
