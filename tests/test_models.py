"""Tests of mlmon_nb.models: safe loading of model versions and scoring."""

from __future__ import annotations

import json
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
from mlmon_nb import models
from mlmon_nb.models import VERIFIED_DIR, load_model, score, verify_model_file


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


# --------------------------------------------------------------------------- files known to load

def _counting_loads(monkeypatch) -> list[str]:
    """Record each load of a model file by :func:`verify_model_file`."""
    loads: list[str] = []

    def counted(model, version):
        loads.append(str(version.model))
        return load_model(model, version)
    monkeypatch.setattr(models, "load_model", counted)
    return loads


def _dump(path, model):
    sio.dump(model, path)
    return VersionConfig(name="1", model=path)


def test_a_file_that_loaded_is_checked_from_its_record_without_loading_it(tmp_path, monkeypatch):
    X, y = _data()
    archive = tmp_path / "reports"
    version = _dump(tmp_path / "m.skops", _pipeline(HistGradientBoostingClassifier(max_iter=5, random_state=0)).fit(X, y))
    loads = _counting_loads(monkeypatch)
    first = verify_model_file(_cfg(tmp_path), version, archive)
    assert first.fingerprint == f"sha256:{load_model(_cfg(tmp_path), version).sha256}"
    assert not archive.exists()  # nothing is written before the run starts
    first.keep(archive)
    record = json.loads((archive / VERIFIED_DIR / f"{first.fingerprint.removeprefix('sha256:')}.json").read_text())
    assert record["untrusted"] == ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
    assert record["predict_proba"] and record["packages"]["scikit-learn"] and record["packages"]["skops"]
    again = verify_model_file(_cfg(tmp_path), version, archive)
    assert again.fingerprint == first.fingerprint and again.record is None
    assert len(loads) == 1


def test_the_record_meets_the_trust_and_task_the_version_entry_gives_now(tmp_path, monkeypatch):
    from sklearn.linear_model import LinearRegression

    X, y = _data()
    archive = tmp_path / "reports"
    unreviewed = Pipeline([("neg", FunctionTransformer(func=operator.neg)), ("m", LogisticRegression())]).fit(X[["a"]], y)
    path = tmp_path / "neg.skops"
    sio.dump(unreviewed, path)
    verify_model_file(_cfg(tmp_path), VersionConfig(name="1", model=path, trusted=True), archive).keep(archive)
    regressor = _dump(tmp_path / "reg.skops", _pipeline(LinearRegression()).fit(X, y.astype(float)))
    verify_model_file(_cfg(tmp_path, task="regression"), regressor, archive).keep(archive)

    loads = _counting_loads(monkeypatch)
    with pytest.raises(ModelError, match=r"models\.m\.versions\.1\.model: neg\.skops contains types .*_operator\.neg"):
        verify_model_file(_cfg(tmp_path), VersionConfig(name="1", model=path), archive)  # trust taken back
    with pytest.raises(ModelError, match=r"reg\.skops \(Pipeline\) has no predict_proba, needed for task "
                                         r"binary_classification"):
        verify_model_file(_cfg(tmp_path), regressor, archive)
    assert loads == []  # both refusals came from the records, as loading would have refused


@pytest.mark.parametrize("change", ["bytes", "packages", "damaged", "suffix"])
def test_other_bytes_packages_or_a_damaged_record_load_the_file_again(tmp_path, monkeypatch, change):
    X, y = _data()
    archive = tmp_path / "reports"
    version = _dump(tmp_path / "m.skops", _pipeline(LogisticRegression()).fit(X, y))
    kept = verify_model_file(_cfg(tmp_path), version, archive)
    kept.keep(archive)
    record_path = archive / VERIFIED_DIR / f"{kept.fingerprint.removeprefix('sha256:')}.json"
    record = json.loads(record_path.read_text())
    if change == "bytes":
        sio.dump(_pipeline(LogisticRegression(C=0.5)).fit(X, y), version.model)
    elif change == "packages":
        record_path.write_text(json.dumps({**record, "packages": {**record["packages"], "scikit-learn": "0.1"}}))
    elif change == "damaged":
        record_path.write_text('{"suffix": ".skops", "untrusted": ')
    else:
        record_path.write_text(json.dumps({**record, "suffix": ".pkl"}))
    loads = _counting_loads(monkeypatch)
    verify_model_file(_cfg(tmp_path), version, archive)
    assert loads == [str(version.model)]


def test_an_unwritable_archive_only_costs_a_load_next_time(tmp_path):
    X, y = _data()
    version = _dump(tmp_path / "m.skops", _pipeline(LogisticRegression()).fit(X, y))
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the archive's folder would be")
    verify_model_file(_cfg(tmp_path), version, blocker).keep(blocker)  # logged, not raised
    assert blocker.read_text().startswith("a file")
