"""The two model versions: the frame they see, and how they are fit on the training period.

Version 1 is a logistic regression, version 2 gradient boosting; the click
model of :mod:`.scenario` has non-linear effects that only version 2 can fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .scenario import CATEGORICAL, CATEGORICAL_LABELS, NUMERIC


def feature_frame(rows: dict[str, np.ndarray]) -> pd.DataFrame:
    """The raw feature columns as a DataFrame, as the models see them in the files."""
    frame = {name: rows[name] for name in NUMERIC}
    for name, labels in zip(CATEGORICAL, CATEGORICAL_LABELS):
        frame[name] = np.asarray(labels, dtype=object)[rows[name]]
    return pd.DataFrame(frame)


def train(rows: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[Pipeline, Pipeline]:
    """Fit version 1 (logistic regression) and version 2 (gradient boosting)."""
    frame, target = feature_frame(rows), rows["clicked"].astype(np.int64)
    v1 = Pipeline([
        ("prepare", ColumnTransformer([
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
            ("numeric", StandardScaler(), list(NUMERIC)),
        ])),
        ("classify", LogisticRegression(max_iter=1000)),
    ])
    v2 = Pipeline([
        ("prepare", ColumnTransformer([
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
             list(CATEGORICAL)),
            ("numeric", "passthrough", list(NUMERIC)),
        ])),
        ("classify", HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=150, max_leaf_nodes=15, l2_regularization=1.0,
            early_stopping=False, random_state=int(rng.integers(2**31 - 1)),
        )),
    ])
    return v1.fit(frame, target), v2.fit(frame, target)
