"""Tests of mlmon_nb.models: safe loading of model versions and scoring."""

from __future__ import annotations

import operator

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from mlmon_nb.config import ModelConfig, VersionConfig
from mlmon_nb.errors import ModelError
from mlmon_nb.models import load_model, score


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n)})
    y = ((X["a"] + (X["c"] == "x")) > 0.5).astype(int)
    return X, y


def _pipeline(est):
    ct = ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["c"])], remainder="passthrough")
    return Pipeline([("ct", ct), ("m", est)])


def _cfg(tmp_path, task="binary_classification"):
    return ModelConfig(name="m", task=task, timestamp="ts", prediction="score", target="y",
                       reference=tmp_path / "r.parquet", logs=tmp_path / "logs")


@pytest.mark.parametrize("est", [LogisticRegression(), HistGradientBoostingClassifier(max_iter=20, random_state=0)])
def test_skops_models_load_and_score_like_the_original(tmp_path, est):
    X, y = _data()
    model = _pipeline(est).fit(X, y)
    path = tmp_path / "m.skops"
    sio.dump(model, path)
    loaded = load_model(_cfg(tmp_path), VersionConfig(name="1", model=path))
    X["c"] = X["c"].astype("category")  # windows come back with categoricals as category
    got = score(loaded, X)
    assert got.shape == (len(X),)
    assert got == pytest.approx(model.predict_proba(X.astype({"c": object}))[:, 1], abs=1e-12)
    assert loaded.sha256 and loaded.features == ("a", "c")


def test_unreviewed_skops_types_are_refused_unless_trusted(tmp_path):
    X, y = _data()
    model = Pipeline([("neg", FunctionTransformer(func=operator.neg)),
                      ("m", LogisticRegression())]).fit(X[["a"]], y)
    path = tmp_path / "m.skops"
    sio.dump(model, path)
    with pytest.raises(ModelError, match=r"_operator\.neg"):
        load_model(_cfg(tmp_path), VersionConfig(name="1", model=path))
    loaded = load_model(_cfg(tmp_path), VersionConfig(name="1", model=path, trusted=True))
    assert score(loaded, X[["a"]]).shape == (len(X),)


def test_pickles_need_trust(tmp_path):
    X, y = _data()
    model = _pipeline(LogisticRegression()).fit(X, y)
    path = tmp_path / "m.joblib"
    joblib.dump(model, path)
    with pytest.raises(ModelError, match="trusted: true"):
        load_model(_cfg(tmp_path), VersionConfig(name="1", model=path))
    assert load_model(_cfg(tmp_path), VersionConfig(name="1", model=path, trusted=True)).estimator is not None


@pytest.mark.parametrize("content, name, message", [
    (None, "missing.skops", "not found"),
    (b"not a zip file", "bad.skops", "not a readable skops file"),
    (b"garbage", "bad.pkl", "could not be unpickled"),
    (b"x", "model.onnx", "expected a .skops"),
])
def test_bad_model_files(tmp_path, content, name, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match=message) as info:
        load_model(_cfg(tmp_path), VersionConfig(name="1", model=path, trusted=True))
    assert "models.m.versions.1.model" in str(info.value)


def test_missing_columns_for_scoring(tmp_path):
    X, y = _data()
    path = tmp_path / "m.skops"
    sio.dump(_pipeline(LogisticRegression()).fit(X, y), path)
    loaded = load_model(_cfg(tmp_path), VersionConfig(name="1", model=path))
    with pytest.raises(ModelError, match="columns missing for scoring: c"):
        score(loaded, X[["a"]])
