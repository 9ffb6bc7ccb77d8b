"""The Python client of the loss-search API (no torch needed).

>>> from service.client import Client
>>> with Client("http://127.0.0.1:8000", api_key="lsk_...") as client:
...     job = client.submit(dataset="builtin:breast_cancer", metric="f1", budget={"n_trials": 8})
...     job.wait(progress=True)
...     print(job.best().comparison.summary)

:class:`AsyncClient` is the same for ``async`` code. The answers are the service's own models
(:mod:`service.schemas`); errors are :class:`ApiError` (the API's one error shape) and
:class:`ServiceUnreachable`.
"""

from service.client.aio import AsyncClient, AsyncJob
from service.client.calls import CodeFormat
from service.client.errors import ApiError, ClientError, ServiceUnreachable
from service.client.follow import ProgressSink, Standing
from service.client.retries import NO_RETRIES, Retries
from service.client.sync import Client, Job
from service.schemas import BestOut, JobOut, Page, TrialOut
from service.schemas.datasets import DatasetOut
from service.schemas.jobs import JobSubmission
from service.schemas.reports import ReportOut

__all__ = [
    "NO_RETRIES",
    "ApiError",
    "AsyncClient",
    "AsyncJob",
    "BestOut",
    "Client",
    "ClientError",
    "CodeFormat",
    "DatasetOut",
    "Job",
    "JobOut",
    "JobSubmission",
    "Page",
    "ProgressSink",
    "ReportOut",
    "Retries",
    "ServiceUnreachable",
    "Standing",
    "TrialOut",
]
