"""Response models of the HTTP contract. The request body of a job is the engine's
:class:`~workers.engine.spec.JobSpec`, which the job view also shows (planned)."""

from service.schemas.catalogue import LossInfo, LossParamInfo, MetricInfo, MetricParamInfo
from service.schemas.errors import ErrorBody, ErrorDetail, ErrorResponse
from service.schemas.jobs import (
    BestSoFar,
    JobOut,
    MetricOut,
    Page,
    Progress,
    ShardOut,
    TrialOut,
)
from service.schemas.results import BestOut, ComparisonOut

__all__ = [
    "BestOut",
    "BestSoFar",
    "ComparisonOut",
    "ErrorBody",
    "ErrorDetail",
    "ErrorResponse",
    "JobOut",
    "LossInfo",
    "LossParamInfo",
    "MetricInfo",
    "MetricOut",
    "MetricParamInfo",
    "Page",
    "Progress",
    "ShardOut",
    "TrialOut",
]
