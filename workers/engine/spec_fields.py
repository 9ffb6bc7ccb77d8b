"""The bounded field types of a job spec, and their bounds.

Every string, list and dict is bounded (generously: the bounds stop abuse, not use), every number
must be finite (Python's json module reads ``NaN`` and ``Infinity``, so the models refuse them),
and no string may hold a control character. The bounds are stated in each field's description
and in the JSON schema, so a client can see them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StringConstraints,
    Tag,
)

MAX_TRIALS = 2000
MAX_TIMEOUT_S = 7 * 24 * 3600
MAX_REFERENCE_LENGTH = 4096  # PATH_MAX on Linux
MAX_NAME_LENGTH = 256  # a column, loss, parameter or metric name
MAX_TARGET_COLUMNS = 1000
MAX_LOSSES = 100
MAX_OVERRIDDEN = 100  # losses (and 'training') in params
MAX_PARAMS_PER_LOSS = 20
MAX_METRIC_PARAMS = 10
MAX_COST_CLASSES = 200  # rows and columns of a cost matrix: the most classes a target may have

_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")

# No C0 control character nor DEL. The JSON schema states the rule as a pattern, so clients and
# generators see it; the validator says which character it found and where.
PLAIN_TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"


def find_control_character(text: str) -> str | None:
    """Where ``text`` holds a control character, in words (``"a NUL byte at position 3"``)."""
    found = _CONTROL_CHARACTER.search(text)
    if found is None:
        return None
    what = "a NUL byte" if found.group() == "\x00" else f"the control character {found.group()!r}"
    return f"{what} at position {found.start()}"


def _plain(value: str) -> str:
    found = find_control_character(value)
    if found is not None:
        raise ValueError(f"contains {found}; control characters are not allowed")
    return value


Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(_plain),
    Field(json_schema_extra={"pattern": PLAIN_TEXT_PATTERN}),
]
ShortName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_plain),
    Field(json_schema_extra={"pattern": PLAIN_TEXT_PATTERN}),
]
# As a dict key: the same rule, stated as propertyNames' bounds only, so that a schema states the
# values as additionalProperties (which generated clients type), not patternProperties.
NameKey = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(_plain)
]
ShortKey = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_plain)]
Reference = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_REFERENCE_LENGTH),
    AfterValidator(_plain),
    Field(json_schema_extra={"pattern": PLAIN_TEXT_PATTERN}),
]
# Numbers keep their JSON type: true is not 1, and "3" is not 3.
Integer = Annotated[int, Strict()]
Number = Annotated[float, Strict()]


def shape(value: Any) -> str:
    """Which member of a union ``value`` is meant for, so an error speaks of that one only."""
    if isinstance(value, str):
        return "name"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict | BaseModel):
        return "object"
    return "number"


ParamValue = Annotated[
    Annotated[Number, Tag("number")]
    | Annotated[list[Number], Tag("list"), Field(min_length=2, max_length=2)],
    Discriminator(shape),
]
# A square matrix (expected_cost's costs): its shape and values are checked by the metric, which
# knows the rule; here only the bounds that stop abuse and the JSON types.
MatrixRow = Annotated[list[Number], Field(max_length=MAX_COST_CLASSES)]
MetricParamValue = Annotated[
    Annotated[Number, Tag("number")]
    | Annotated[ShortName, Tag("name")]
    | Annotated[list[MatrixRow], Tag("list"), Field(max_length=MAX_COST_CLASSES)],
    Discriminator(shape),
]


class SpecModel(BaseModel):
    """Base of every part of a spec: immutable; unknown fields, NaN and infinities refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)
