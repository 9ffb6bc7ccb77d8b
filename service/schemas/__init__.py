"""Request and response models: the public HTTP contract."""

from service.schemas.catalogue import LossInfo, LossParamInfo, MetricInfo, MetricParamInfo
from service.schemas.errors import ErrorBody, ErrorDetail, ErrorResponse
from service.schemas.jobs import (
    BestSoFar,
    JobOut,
    JobSpecOut,
    MetricOut,
    Page,
    Progress,
    ShardOut,
    TrialOut,
)
from service.schemas.requests import (
    MAX_TIMEOUT_S,
    MAX_TRIALS,
    BudgetIn,
    ConfirmationIn,
    JobCreate,
    MetricIn,
    ParallelismIn,
)
from service.schemas.results import BestOut, ComparisonOut

__all__ = [
    "MAX_TIMEOUT_S",
    "MAX_TRIALS",
    "BestOut",
    "BestSoFar",
    "BudgetIn",
    "ComparisonOut",
    "ConfirmationIn",
    "ErrorBody",
    "ErrorDetail",
    "ErrorResponse",
    "JobCreate",
    "JobOut",
    "JobSpecOut",
    "LossInfo",
    "LossParamInfo",
    "MetricIn",
    "MetricInfo",
    "MetricOut",
    "MetricParamInfo",
    "Page",
    "ParallelismIn",
    "Progress",
    "ShardOut",
    "TrialOut",
]
