"""Log lines, as text or JSON, that say which job (shard, tenant) they are about.

The job a line is about is held in a context variable (:func:`job_context`) rather than
passed to every call: a filter on the handler copies it onto each record, so lines logged by
the engine, Optuna or the database layer while a shard runs carry it too. Threads do not
inherit context variables; a thread that logs for a job runs in a copy of its starter's
context (see ``workers.job_hooks.ShardHeartbeat``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal, TextIO

from pythonjsonlogger.json import JsonFormatter

JOB_FIELDS = ("job_id", "shard", "tenant")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = ["asctime", "levelname", "name", "message"]
# uvicorn configures its own loggers (no propagation); in JSON mode they go through ours.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

_job: ContextVar[dict[str, object] | None] = ContextVar("loss_search_job", default=None)


@contextmanager
def job_context(
    job_id: str, *, shard: int | None = None, tenant: str | None = None
) -> Iterator[None]:
    """Every line logged inside this block (in this thread or task) is about this job."""
    fields: dict[str, object] = {"job_id": job_id}
    if shard is not None:
        fields["shard"] = shard
    if tenant is not None:
        fields["tenant"] = tenant
    token = _job.set(fields)
    try:
        yield
    finally:
        _job.reset(token)


def current_job() -> dict[str, object]:
    """The job fields of the current context (empty outside any job)."""
    return dict(_job.get() or {})


class JobFields(logging.Filter):
    """Copies the current job's fields onto each record (a field given in ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_job.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """The plain format, with ``[job_id=... shard=... tenant=...]`` on lines about a job."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [f"{name}={getattr(record, name)}" for name in JOB_FIELDS if hasattr(record, name)]
        return f"{line} [{' '.join(fields)}]" if fields else line


def formatter(log_format: Literal["text", "json"]) -> logging.Formatter:
    """The formatter for ``log_format``: JSON lines hold the job fields as their own keys."""
    if log_format == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger"})
    return TextFormatter(TEXT_FORMAT)


def configure_logging(
    log_format: Literal["text", "json"],
    level: int | str = logging.INFO,
    stream: TextIO | None = None,
) -> None:
    """One handler on the root logger, to ``stream`` (stderr), in ``log_format``; it replaces
    the handlers there were."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(JobFields())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    if log_format == "json":
        for name in UVICORN_LOGGERS:
            logging.getLogger(name).handlers = []
            logging.getLogger(name).propagate = True
