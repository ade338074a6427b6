"""A newcomer's path, end to end (README, "Monitor your own model"): mlmon init -> check -> baseline
-> run, on load_breast_cancer (numeric features only), an all-categorical model, a regression
model and a multiclass model; and what `mlmon init` infers (mlmon_nb.onboard)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import onboarding_data as od
from conftest import shared_fork_server_env
from mlmon_nb.config import load_project
from mlmon_nb.errors import UsageError
from mlmon_nb.onboard import propose, write_project

MLMON = str(Path(sys.executable).parent / "mlmon")
EVERY_NOTEBOOK = "data_drift,concept_drift,explainability,feedback_loops,operations"
EXPLAINED_ROWS = 100
"""Window rows explainability explains (-P max_rows): shap's permutation explainer calls a scikit-learn
pipeline once per row and permutation, the slowest part of these runs; 100 rows exercise it all."""


def mlmon(*args: str, cwd: Path) -> tuple[int, str, str, float]:
    t0 = time.perf_counter()
    done = subprocess.run([MLMON, *args], cwd=cwd, capture_output=True, text=True, timeout=900,
                          env=shared_fork_server_env())
    return done.returncode, done.stdout, done.stderr, time.perf_counter() - t0


def _summary(run_dir: str) -> dict:
    return json.loads((Path(run_dir.strip()) / "summary.json").read_text())


def _baseline_manifest(root: Path, model: str = "reference") -> dict:
    return json.loads(next((root / "reports" / model / "1" / "baseline").glob("*/baseline.json")).read_text())


# --------------------------------------------------------------------------- the newcomer's path


def test_breast_cancer_init_check_baseline_and_every_notebook(tmp_path):
    """The README's path on the first data set a newcomer tries: 30 numeric features, no categorical,
    a reference of the minimum size (8 chunks), a scikit-learn pipeline saved with skops."""
    root = od.breast_cancer(tmp_path / "bc")
    seconds = {}
    code, out, err, seconds["init"] = mlmon("init", "reference.parquet", "--logs", "logs/", "--model", "model.skops",
                                            cwd=root)
    assert code == 0, err
    assert "binary_classification (the model has predict_proba over 2 classes)" in out
    assert "features   30 numeric, 0 categorical" in out and "target     'label'" in out
    proj = load_project(root / "mlmon.yaml")  # accepted by the loader unchanged
    m = proj.model("reference")
    assert (m.task, m.timestamp, m.prediction, m.target) == ("binary_classification", "ts", "score", "label")
    assert len(m.features.numeric) == 30 and m.features.categorical == ()

    code, out, err, seconds["check"] = mlmon("check", "-p", "mlmon.yaml", cwd=root)
    assert code == 0, err
    assert "model model.skops (Pipeline) loaded; called as predict_proba(rows[30 feature columns])" in out

    code, out, err, seconds["baseline"] = mlmon("baseline", "-p", "mlmon.yaml", "-m", "reference", "-v", "1",
                                                cwd=root)
    assert code == 0, err
    manifest = _baseline_manifest(root)
    assert manifest["chunks"]["n"] == 8 and manifest["features"]["categorical"] == []
    assert any("Reference has 2,400 rows: 8 chunks of 300 rows instead of 20" in n for n in manifest["notes"])
    report = next((root / "reports/reference/1/baseline").glob("*/baseline.html")).read_text()
    assert "No categorical features." in report

    code, out, err, seconds["run"] = mlmon("run", "-p", "mlmon.yaml", "-m", "reference", "-v", "1", "-w", od.WEEK,
                                           "-n", EVERY_NOTEBOOK, "-P", f"max_rows={EXPLAINED_ROWS}", "--fail-on",
                                           "never", cwd=root)
    assert code == 0, err
    summary = _summary(out)
    assert set(summary["notebooks"]) == set(EVERY_NOTEBOOK.split(","))
    assert all(nb["status"] != "error" for nb in summary["notebooks"].values()), summary["notebooks"]
    assert summary["notebooks"]["feedback_loops"]["status"] == "skipped"  # no feedback block: says so
    drift = {c["subject"] for c in summary["checks"] if c["kind"] == "feature_drift"}
    assert len(drift) == 30
    print("breast cancer, seconds:", {k: round(v, 1) for k, v in seconds.items()})


@pytest.mark.parametrize("kind, notebooks, with_ts", [
    ("categorical", "data_drift,concept_drift,operations", True),
    # explainability of a regressor runs in the demo's delivery model (tests/test_demo_regression.py)
    ("regression", "data_drift,concept_drift,feedback_loops,operations", False),
    ("multiclass", EVERY_NOTEBOOK, True),
])
def test_other_kinds_of_model_through_baseline_and_notebooks(tmp_path, kind, notebooks, with_ts):
    """Categorical features only (binary), a regressor whose reference has no timestamp, a
    three-class model: each initialised by `mlmon init`, baselined, and run on one week."""
    root = getattr(od, kind)(tmp_path / kind, with_ts=with_ts)
    code, out, err, _ = mlmon("init", "reference.parquet", "--logs", "logs", "--model", "model.skops", cwd=root)
    assert code == 0, err
    m = load_project(root / "mlmon.yaml").model("reference")
    expected = {"categorical": ("binary_classification", "churned", (), tuple(od.LEVELS)),
                "regression": ("regression", "price", ("x1", "x2"), ("size",)),
                "multiclass": ("multiclass_classification", "segment", ("x1", "x2"), ("size",))}[kind]
    assert (m.task, m.target, m.features.numeric, m.features.categorical) == expected

    code, _, err, _ = mlmon("baseline", "-p", "mlmon.yaml", "-m", "reference", "-v", "1", cwd=root)
    assert code == 0, err
    manifest = _baseline_manifest(root)
    assert manifest["task"] == expected[0]
    assert manifest["chunks"]["by"] == ("time order of 'ts'" if with_ts else "row order")
    if kind == "categorical":
        report = next((root / "reports/reference/1/baseline").glob("*/baseline.html")).read_text()
        assert "No numeric features." in report

    small = ["-P", f"max_rows={EXPLAINED_ROWS}"] if "explainability" in notebooks else []
    code, out, err, _ = mlmon("run", "-p", "mlmon.yaml", "-m", "reference", "-v", "1", "-w", od.WEEK,
                              "-n", notebooks, *small, "--fail-on", "never", cwd=root)
    assert code == 0, err
    summary = _summary(out)
    assert list(summary["notebooks"]) == notebooks.split(",")
    assert all(nb["status"] != "error" for nb in summary["notebooks"].values()), summary["notebooks"]
    kinds = {c["kind"] for c in summary["checks"]}
    assert {"feature_drift", "prediction_drift"} <= kinds
    assert "performance" in kinds or "estimated_performance" in kinds


def test_init_on_the_demo_reference_gives_a_project_check_accepts_and_that_runs(demo, tmp_path):
    """`mlmon init` on the demo's own files (its reference, its logs, version 2's model file): the
    proposed project passes `mlmon check`, baselines, and its data-drift run finds week 5's drift."""
    import shutil

    src = Path(demo.project_path).parent
    shutil.copytree(src / "data", tmp_path / "data")
    shutil.copytree(src / "models", tmp_path / "models")
    code, out, err, _ = mlmon("init", "data/reference.parquet", "--logs", "data/logs/", "--model",
                              "models/ctr/2.skops", cwd=tmp_path)
    assert code == 0, err
    m = load_project(tmp_path / "mlmon.yaml").model("reference")
    assert (m.task, m.timestamp, m.prediction, m.target) == ("binary_classification", "ts", "score", "clicked")
    assert set(m.features.numeric) == {"price", "discount_pct", "user_tenure_days", "item_rating", "session_depth"}
    code, out, err, _ = mlmon("check", "-p", "mlmon.yaml", cwd=tmp_path)
    assert code == 0 and out.startswith("mlmon.yaml: ok"), err
    code, _, err, _ = mlmon("baseline", "-p", "mlmon.yaml", "-m", "reference", "-v", "1", cwd=tmp_path)
    assert code == 0, err
    start, end = demo.windows[4]
    code, out, err, _ = mlmon("run", "-p", "mlmon.yaml", "-m", "reference", "-v", "1", "-w",
                              f"{start.date()}/{end.date()}", "-n", "data_drift", "--fail-on", "never", cwd=tmp_path)
    assert code == 0, err
    summary = _summary(out)
    alerting = {c["subject"] for c in summary["checks"] if c["kind"] == "feature_drift" and c["status"] == "alert"}
    assert {"price", "device"} <= alerting


# --------------------------------------------------------------------------- what init infers


def test_init_never_overwrites_a_file(tmp_path):
    root = od.categorical(tmp_path / "p")
    (root / "mlmon.yaml").write_text("# mine\n")
    code, out, err, seconds = mlmon("init", "reference.parquet", cwd=root)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [f"mlmon: error: {root / 'mlmon.yaml'} already exists: mlmon init never "
                                        f"overwrites a file; remove it or write another one with -o FILE"]
    assert (root / "mlmon.yaml").read_text() == "# mine\n"
    assert seconds < 2.0
    with pytest.raises(UsageError, match="already exists"):
        write_project(propose(root / "reference.parquet"), root / "mlmon.yaml")


def test_init_refuses_a_pickle_unless_trusted(tmp_path):
    import joblib
    import skops.io as sio

    root = od.categorical(tmp_path / "p")
    joblib.dump(sio.load(root / "model.skops", trusted=sio.get_untrusted_types(file=root / "model.skops")),
                root / "model.joblib")
    code, _, err, _ = mlmon("init", "reference.parquet", "--model", "model.joblib", cwd=root)
    assert code == 2 and "pass --trusted if you vouch for it" in err
    assert not (root / "mlmon.yaml").exists()
    code, _, err, _ = mlmon("init", "reference.parquet", "--model", "model.joblib", "--trusted", cwd=root)
    assert code == 0, err
    version = load_project(root / "mlmon.yaml").version("reference", "1")
    assert version.trusted and version.model == root / "model.joblib"


def test_without_a_model_features_come_from_the_columns_and_ids_are_left_out(tmp_path):
    root = od.categorical(tmp_path / "p")
    p = propose(root / "reference.parquet", root / "logs")
    assert p.task == "binary_classification" and p.why["task"] == "the target has 2 values (0, 1)"
    assert (p.timestamp, p.prediction, p.target) == ("ts", "score", "churned")
    assert p.categorical == list(od.LEVELS) and p.numeric == []
    assert p.excluded == {"user_id": "named like an id"}
    assert p.positive_class is None


def _reference(tmp_path: Path, **columns) -> Path:
    n = 3_000
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.normal(size=n), "city": rng.choice(["a", "b"], n), **{
        k: (v(rng, n) if callable(v) else v) for k, v in columns.items()}})
    path = tmp_path / "ref.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("target, task, positive", [
    (lambda rng, n: rng.choice(["yes", "no"], n, p=[0.2, 0.8]), "binary_classification", None),  # CSV: booleans
    (lambda rng, n: rng.choice(["positive", "negative"], n, p=[0.7, 0.3]), "binary_classification", "positive"),
    (lambda rng, n: rng.choice(["spam", "ham"], n, p=[0.2, 0.8]), "binary_classification", "spam"),
    (lambda rng, n: rng.integers(0, 4, n), "multiclass_classification", None),
    (lambda rng, n: rng.normal(50, 10, n), "regression", None),
    (lambda rng, n: rng.integers(0, 10_000, n), "regression", None),
])
def test_task_and_positive_class_from_the_target(tmp_path, target, task, positive):
    p = propose(_reference(tmp_path, label=target))
    assert (p.target, p.task, p.positive_class) == ("label", task, positive)


def test_what_cannot_be_inferred_is_a_placeholder_to_review_and_still_loads(tmp_path):
    path = _reference(tmp_path, outcome_value=lambda rng, n: rng.normal(size=n))
    p = propose(path)
    assert (p.timestamp, p.prediction, p.target) == ("ts", "prediction", "target")
    assert any("no date/time column" in r for r in p.review) and any("no target column" in r for r in p.review)
    out = write_project(p, tmp_path / "mlmon.yaml")
    text = out.read_text()
    assert text.count("# REVIEW: ") >= 4  # timestamp, prediction, target, logs
    m = load_project(out).model("ref")
    assert m.features.numeric == ("x", "outcome_value") and m.features.categorical == ("city",)
    assert m.versions["1"].model is None


def test_the_written_file_is_what_was_inferred(tmp_path):
    root = od.regression(tmp_path / "Price Model (v2)")
    (root / "reference.parquet").rename(root / "Price Model (v2).parquet")
    p = propose(root / "Price Model (v2).parquet", root / "logs", root / "model.skops")
    out = write_project(p, root / "conf" / "x.yaml") if (root / "conf").mkdir() is None else None
    cfg = yaml.safe_load(out.read_text())
    assert list(cfg["models"]) == ["price-model-v2"]
    body = cfg["models"]["price-model-v2"]
    assert body["reference"] == "../Price Model (v2).parquet" and body["logs"] == "../logs"
    assert body["versions"] == {"1": {"model": "../model.skops"}}
    m = load_project(out).model("price-model-v2")
    assert (m.task, m.prediction, m.target, m.reference) == ("regression", "prediction", "price",
                                                             root / "Price Model (v2).parquet")
    assert m.decision_threshold == 0.5 and m.chunk == "1d" and m.baseline.chunks == 20  # the defaults, commented
    assert "# decision_threshold: 0.5" in out.read_text()
