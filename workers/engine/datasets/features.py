"""Feature columns as the model sees them: numbers standardised, categories one-hot encoded,
text dropped, missing values imputed; fitted on the training rows only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from workers.engine.errors import DatasetError

MAX_ONE_HOT_CATEGORIES = 32


def checked_features(features: pd.DataFrame) -> pd.DataFrame:
    """The feature columns, booleans as numbers, checked to hold only finite numbers."""
    bool_columns = [c for c in features.columns if pd.api.types.is_bool_dtype(features[c])]
    features = features.astype(dict.fromkeys(bool_columns, np.float64))
    _check_finite(features)
    return features


def feature_transformer(features: pd.DataFrame) -> ColumnTransformer:
    numeric = [c for c in features.columns if is_numeric_feature(features[c])]
    categorical = [c for c in features.columns if c not in numeric]
    numeric_steps = Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
    )
    categorical_steps = Pipeline(
        [
            ("to_text", FunctionTransformer(_as_text)),
            ("impute", SimpleImputer(strategy="most_frequent")),
            (
                "one_hot",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    max_categories=MAX_ONE_HOT_CATEGORIES,
                    sparse_output=False,
                ),
            ),
        ]
    )
    return ColumnTransformer(
        [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)],
        sparse_threshold=0.0,
    )


def _check_finite(features: pd.DataFrame) -> None:
    for name in features.columns:
        column = features[name]
        if not is_numeric_feature(column):
            continue
        if np.isinf(column.to_numpy(dtype=float, na_value=np.nan)).any():
            raise DatasetError(
                f"feature column {name!r} contains infinite values; replace them with a finite "
                "value or leave them empty (missing values are imputed)"
            )


def _as_text(X: Any) -> np.ndarray:
    """Cast categorical cells to strings so mixed types encode consistently; keep NaN missing."""
    frame = pd.DataFrame(X).astype(object)
    return frame.where(frame.isna(), frame.astype(str)).to_numpy()


def is_numeric_feature(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column)


def to_float32(matrix: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(matrix, dtype=np.float32))
