"""``loss-search``: start the API, a worker, or both; bring the database up to date; manage
the API keys of tenants.

Each group of commands lives in its own module: :mod:`service.cli.serve` (``up``, ``api``,
``worker``, ``migrate``), :mod:`service.cli.keys` (``keys create | list | revoke``),
:mod:`service.cli.tenants` (``tenants list | limits``), :mod:`service.cli.webhooks`
(``webhooks listen``) and :mod:`service.cli.jobs` (``submit``, ``jobs``, ``show``, ``best``,
``cancel``: a service's jobs through the Python client).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import typer

from service.cli import jobs, keys, serve, tenants, webhooks
from service.logs import configure_logging
from service.settings import get_settings

app = typer.Typer(
    name="loss-search",
    help="Find the training loss that best serves the metric your model is judged by.",
    no_args_is_help=True,
    add_completion=False,
    # Plain tracebacks: rich's would print local variables, and a key may be one of them.
    pretty_exceptions_enable=False,
)
serve.register(app)
jobs.register(app)
app.add_typer(keys.app, name="keys")
app.add_typer(tenants.app, name="tenants")
app.add_typer(webhooks.app, name="webhooks")


# Commands that answer and exit log only problems; the servers log what they do.
_QUIET = {"keys", "tenants", "submit", "jobs", "show", "best", "cancel"}


@app.callback()
def _configure(context: typer.Context) -> None:
    level = logging.WARNING if context.invoked_subcommand in _QUIET else logging.INFO
    configure_logging(get_settings().log_format, level)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line ``argv`` (the process's arguments by default); exits the process."""
    app(args=list(argv) if argv is not None else None, prog_name="loss-search")
