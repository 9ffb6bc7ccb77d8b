"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI

from service import ui
from service.api import (
    catalogue,
    datasets,
    events,
    health,
    job,
    jobs,
    metrics,
    tenants,
    webhooks,
)
from service.api.job_owners import JobOwners
from service.api.view_cache import ViewCache
from service.auth.authenticator import Authenticator
from service.auth.exposure import check_exposure, is_loopback
from service.body_limit import BodySizeLimit
from service.db.api_keys import any_active_key
from service.db.reads import read_engine
from service.errors import install_error_handlers
from service.logs import configure_logging
from service.metrics import build_registry
from service.openapi import document_errors
from service.request_metrics import RequestMetrics
from service.settings import Settings, get_settings

DESCRIPTION = """
Find the training loss that best serves the metric your model is judged by.

POST a job (dataset reference + target metric), follow its trials, and get back the best loss
setup with its threshold, its held-out metric, and how it compares with the plain baseline.

Requests carry an API key, `Authorization: Bearer <key>` (`loss-search keys create --tenant NAME`
makes one), once any key exists; a job is seen only by its own tenant's keys and by admin keys.
With no key at all, an API on 127.0.0.1 is open and needs none.
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
    configured = settings or get_settings()
    if configured.log_format == "json":  # text: uvicorn's own logging, as configured
        configure_logging("json")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Routes run on a thread pool; as many threads as database connections, so a thread
        # never waits on the pool, and no more: threads beyond that only contend for the GIL.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = configured.api_threads
        # The polling routes' async engine lives on this process's event loop.
        app.state.read_engine = read_engine(
            configured.resolved_database_url, configured.database_pool
        )
        if not is_loopback(configured.api_host):  # the CLI checked too; uvicorn may run us alone
            async with app.state.read_engine.connect() as connection:
                check_exposure(configured, int(await any_active_key(connection)))
        # Everything imported and built so far lives as long as the process. Frozen, it is no
        # longer walked by the cyclic garbage collector, whose full passes over those ~230,000
        # objects took 50-150 ms each: a pause every poll in flight would wait out.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.read_engine.dispose()
            gc.unfreeze()  # an app made and closed in a longer-lived process (tests) is freed

    app = LossSearchAPI(
        title="loss-search", version="0.1.0", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.settings = configured
    app.state.view_cache = ViewCache(configured.read_cache_s)
    app.state.job_owners = JobOwners()
    app.state.authenticator = Authenticator(
        mode=configured.auth,
        default_tenant=configured.default_tenant,
        ttl_s=configured.auth_cache_s,
        loopback=is_loopback(configured.api_host),
    )
    install_error_handlers(app)
    app.state.metrics_registry = build_registry(
        configured.resolved_database_url, configured.database_pool
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=app.state.settings.max_request_bytes,
        uploads={
            "/v1/datasets": (app.state.settings.max_upload_bytes, "LOSS_SEARCH_MAX_UPLOAD_BYTES")
        },
    )
    app.add_middleware(RequestMetrics)  # outermost: it times the whole answer
    app.include_router(health.router)
    app.include_router(jobs.router)
    app.include_router(job.router)
    app.include_router(events.router)
    app.include_router(tenants.router)
    app.include_router(webhooks.router)
    app.include_router(datasets.router)
    app.include_router(catalogue.router)
    app.include_router(metrics.router)
    app.include_router(ui.router)  # /ui: the jobs page for people
    return app
