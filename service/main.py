"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from service.api import catalogue, health, jobs
from service.errors import install_error_handlers
from service.settings import Settings, get_settings

DESCRIPTION = """
Find the training loss that best serves the metric your model is judged by.

POST a job (dataset reference + target metric), follow its trials, and get back the best loss
setup with its threshold, its held-out metric, and how it compares with the plain baseline.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API; ``settings`` defaults to the environment's."""
    app = FastAPI(title="loss-search", version="0.1.0", description=DESCRIPTION)
    app.state.settings = settings or get_settings()
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(jobs.router)
    app.include_router(catalogue.router)
    return app
