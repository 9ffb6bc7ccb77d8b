"""Uploaded datasets as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ColumnType = Literal["numeric", "boolean", "categorical", "text", "datetime"]
TargetTask = Literal["binary", "multiclass", "multilabel", "regression"]


class ColumnOut(BaseModel):
    name: str
    type: ColumnType
    missing: int = Field(description="Rows with no value in this column.")
    distinct: int | None = Field(
        description="Distinct values (null: more than a classification target may have)."
    )
    target_for: list[TargetTask] = Field(
        description="The tasks this column could be the target of (multilabel: as one of "
        "several 0/1 columns)."
    )


class DatasetOut(BaseModel):
    id: str
    reference: str = Field(description="What a job names as its dataset: dataset:<id>.")
    filename: str
    fingerprint: str = Field(description="SHA-256 of the file's bytes.")
    size_bytes: int
    format: Literal["csv", "parquet", "arrow"]
    rows: int
    columns: list[ColumnOut]
    created_at: datetime
