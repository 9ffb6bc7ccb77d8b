"""Job reports: the JSON report and its HTML rendering with server-side figures."""

from service.reports.builder import build_report
from service.reports.html import render_report

__all__ = ["build_report", "render_report"]
