"""Small projects a newcomer would build: a reference, a week of logs and a model file (.skops).

Shared by tests/test_onboarding.py and tests/test_preflight.py. Each builder writes into ``root``:
``reference.parquet`` (no prediction column: the model file scores it), ``logs/part-0.parquet``
(one week from 2026-10-05 with the model's output in the prediction column) and ``model.skops``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

WEEK = "2026-10-05/2026-10-12"
REFERENCE_START = "2026-09-01"
LOGS_START = "2026-10-05"


def _stamp(frame: pd.DataFrame, start: str, days: float = 7.0) -> pd.DataFrame:
    n = len(frame)
    ts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.arange(n) * (days * 86400 / n), unit="s")
    return pd.concat([pd.DataFrame({"ts": ts}), frame.reset_index(drop=True)], axis=1)


def _write(root: Path, ref: pd.DataFrame, logs: pd.DataFrame, model, with_ts: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (ref if with_ts else ref.drop(columns="ts")).to_parquet(root / "reference.parquet", index=False)
    (root / "logs").mkdir(exist_ok=True)
    logs.to_parquet(root / "logs/part-0.parquet", index=False)
    sio.dump(model, root / "model.skops")
    return root


def breast_cancer(root: Path, n_ref: int = 2_400, n_logs: int = 1_400, *, with_ts: bool = True) -> Path:
    """``sklearn.datasets.load_breast_cancer`` (30 numeric features), resampled with 2 % noise.

    The 569 rows are drawn with replacement to reach the sizes a baseline needs; the target
    column is ``label`` and the logs hold the positive-class probability in ``score``.
    """
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2_000)).fit(X, y)
    rng = np.random.default_rng(0)

    def draw(n: int, start: str) -> pd.DataFrame:
        idx = rng.integers(0, len(X), n)
        f = X.iloc[idx].reset_index(drop=True) * rng.normal(1.0, 0.02, (n, X.shape[1]))
        f["label"] = y.iloc[idx].to_numpy()
        return _stamp(f, start)

    ref = draw(n_ref, REFERENCE_START)
    logs = draw(n_logs, LOGS_START)
    logs["score"] = model.predict_proba(logs[X.columns])[:, 1]
    return _write(root, ref, logs, model, with_ts)


LEVELS = {"device": ["mobile", "desktop", "tablet"], "region": ["na", "eu", "apac", "latam"],
          "plan": ["free", "pro", "team"], "channel": ["seo", "ads", "email", "direct"]}


def categorical(root: Path, n_ref: int = 2_400, n_logs: int = 1_400, *, with_ts: bool = True) -> Path:
    """A churn model with four categorical features only (and a ``user_id`` that is not a feature)."""
    rng = np.random.default_rng(1)
    effect = {"mobile": 0.6, "tablet": -0.3, "free": 0.9, "team": -0.8, "ads": 0.5, "apac": 0.3}

    def draw(n: int, start: str, prefix: str) -> pd.DataFrame:
        f = pd.DataFrame({k: rng.choice(v, n) for k, v in LEVELS.items()})
        logit = -1.0 + sum(f[k].map(effect).fillna(0.0) for k in LEVELS)
        f["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        f.insert(0, "user_id", [f"{prefix}{i:06d}" for i in range(n)])
        return _stamp(f, start)

    ref = draw(n_ref, REFERENCE_START, "r")
    cols = list(LEVELS)
    model = Pipeline([("oh", OneHotEncoder(handle_unknown="ignore")),
                      ("m", LogisticRegression(max_iter=1_000))]).fit(ref[cols], ref["churned"])
    logs = draw(n_logs, LOGS_START, "w")
    logs["score"] = model.predict_proba(logs[cols])[:, 1]
    return _write(root, ref, logs, model, with_ts)


def _mixed(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({"x1": rng.normal(0, 1, n), "x2": rng.gamma(2.0, 1.5, n),
                         "size": rng.choice(["s", "m", "l"], n, p=[0.3, 0.5, 0.2])})


def _mixed_pipeline(model) -> Pipeline:
    ct = ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["size"])], remainder="passthrough")
    return Pipeline([("ct", ct), ("m", model)])


def regression(root: Path, n_ref: int = 2_400, n_logs: int = 1_400, *, with_ts: bool = True) -> Path:
    """A price model: two numeric features and one categorical, a float target ``price``."""
    rng = np.random.default_rng(2)

    def draw(n: int, start: str) -> pd.DataFrame:
        f = _mixed(n, rng)
        f["price"] = 10 + 2 * f["x1"] + 1.5 * f["x2"] + f["size"].map({"s": -2.0, "m": 0.0, "l": 3.0}) \
            + rng.normal(0, 1, n)
        return _stamp(f, start)

    ref = draw(n_ref, REFERENCE_START)
    cols = ["x1", "x2", "size"]
    model = _mixed_pipeline(Ridge()).fit(ref[cols], ref["price"])
    logs = draw(n_logs, LOGS_START)
    logs["prediction"] = model.predict(logs[cols])
    return _write(root, ref, logs, model, with_ts)


def multiclass(root: Path, n_ref: int = 2_400, n_logs: int = 1_400, *, with_ts: bool = True) -> Path:
    """A three-class model (classes 0, 1, 2 in ``segment``) on the same mixed features."""
    rng = np.random.default_rng(3)

    def draw(n: int, start: str) -> pd.DataFrame:
        f = _mixed(n, rng)
        z = f["x1"] + 0.4 * f["x2"] + f["size"].map({"s": -0.5, "m": 0.0, "l": 0.8}) + rng.normal(0, 0.7, n)
        f["segment"] = np.digitize(z, [0.2, 1.4])
        return _stamp(f, start)

    ref = draw(n_ref, REFERENCE_START)
    cols = ["x1", "x2", "size"]
    model = _mixed_pipeline(LogisticRegression(max_iter=1_000)).fit(ref[cols], ref["segment"])
    logs = draw(n_logs, LOGS_START)
    logs["prediction"] = model.predict_proba(logs[cols]).max(axis=1)
    return _write(root, ref, logs, model, with_ts)
