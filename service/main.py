"""The FastAPI application factory."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.api import catalogue, health, jobs
from service.body_limit import BodySizeLimit
from service.errors import install_error_handlers
from service.openapi import document_errors
from service.settings import Settings, get_settings

DESCRIPTION = """
Find the training loss that best serves the metric your model is judged by.

POST a job (dataset reference + target metric), follow its trials, and get back the best loss
setup with its threshold, its held-out metric, and how it compares with the plain baseline.
"""


class LossSearchAPI(FastAPI):
    """FastAPI, with every route's error responses in its OpenAPI document."""

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document, built once; see :mod:`service.openapi`."""
        if self.openapi_schema is None:
            self.openapi_schema = document_errors(super().openapi())
        return self.openapi_schema


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API; ``settings`` defaults to the environment's."""
    app = LossSearchAPI(title="loss-search", version="0.1.0", description=DESCRIPTION)
    app.state.settings = settings or get_settings()
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=app.state.settings.max_request_bytes)
    app.include_router(health.router)
    app.include_router(jobs.router)
    app.include_router(catalogue.router)
    return app
