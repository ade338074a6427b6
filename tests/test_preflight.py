"""Tests of mlmon_nb.preflight and `mlmon check`: each planted problem is named on one line, exit 2,
in under 2 s, with nothing written; `mlmon run`/`mlmon baseline` refuse the same mistakes before a
kernel or pandas starts; the reference minimum and the chunks it gives."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import onboarding_data as od
from mlmon_nb import data, preflight
from mlmon_nb.config import FeaturesConfig, load_project
from mlmon_nb.errors import DataError

MLMON = str(Path(sys.executable).parent / "mlmon")
FAST_SECONDS = 2.0

PROJECT = {
    "archive": "reports",
    "models": {"churn": {
        "task": "binary_classification", "timestamp": "ts", "prediction": "score", "target": "churned",
        "reference": "reference.parquet", "logs": "logs",
        "features": {"categorical": ["device", "region", "plan", "channel"]},
        "versions": {"1": {"model": "model.skops"}},
    }},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = od.categorical(tmp_path_factory.mktemp("preflight") / "p")
    (root / "mlmon.yaml").write_text(yaml.safe_dump(PROJECT, sort_keys=False))
    return root


@pytest.fixture
def project(built, tmp_path) -> Path:
    """A valid project (categorical churn model, 2,400 reference rows, a week of logs), copied."""
    shutil.copytree(built, tmp_path / "p")
    return tmp_path / "p" / "mlmon.yaml"


def mlmon(*args: str, cwd: Path) -> tuple[int, str, str, float]:
    t0 = time.perf_counter()
    done = subprocess.run([MLMON, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout, done.stderr, time.perf_counter() - t0


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _edit(path: Path, change) -> None:
    cfg = yaml.safe_load(path.read_text())
    change(cfg["models"]["churn"])
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def _shrink_reference(path: Path, rows: int = 1_000) -> None:
    ref = path.parent / "reference.parquet"
    pd.read_parquet(ref).iloc[:rows].to_parquet(ref, index=False)


PROBLEMS = {
    "missing column": (lambda p: _edit(p, lambda m: m["features"]["categorical"].append("nope")), [],
                       "column 'nope' (models.churn.features.categorical) not found in"),
    "unknown model": (None, ["-m", "nope"], "no model 'nope'; known: churn"),
    "unknown version": (None, ["-m", "churn", "-v", "9"], "no version '9'"),
    "bad model file": (lambda p: (p.parent / "model.skops").write_bytes(b"nonsense"), [],
                       "model.skops is not a readable skops file"),
    "model file missing": (lambda p: (p.parent / "model.skops").unlink(), [], "model file not found"),
    "untrusted pickle": (lambda p: ((p.parent / "model.joblib").write_bytes(b"\x80\x04N."), _edit(
        p, lambda m: m["versions"]["1"].__setitem__("model", "model.joblib"))), [], "without 'trusted: true'"),
    "too small reference": (_shrink_reference, [], "reference has 1,000 rows: at least 2,400 are needed"),
    "prediction column missing from the logs": (lambda p: _edit(p, lambda m: m.__setitem__("prediction", "proba")),
                                                [], "prediction column 'proba' (models.churn.prediction) not found"),
    "text read as a number": (lambda p: _edit(p, lambda m: m["features"].__setitem__("numeric", ["plan"])
                                              or m["features"]["categorical"].remove("plan")), [],
                              "column 'plan' (models.churn.features.numeric) is VARCHAR"),
    "timestamp not in the logs": (lambda p: _edit(p, lambda m: m.__setitem__("timestamp", "time")), [],
                                  "timestamp column 'time' (models.churn.timestamp) not found"),
    "labels without the key": (lambda p: _edit(p, lambda m: m.__setitem__("labels", {"path": "logs", "key": "rid"})),
                               [], "label key 'rid'"),
    "unknown key": (lambda p: _edit(p, lambda m: m.__setitem__("traget", "y")), [], "traget"),
}


@pytest.mark.parametrize("case", list(PROBLEMS))
def test_check_names_each_planted_problem_quickly_and_writes_nothing(project, case):
    mutate, extra, expected = PROBLEMS[case]
    if mutate:
        mutate(project)
    before = _tree(project.parent)
    code, out, err, seconds = mlmon("check", "-p", "mlmon.yaml", *extra, cwd=project.parent)
    assert code == 2, (case, out, err)
    lines = err.strip().splitlines()
    assert all(line.startswith(("mlmon: error: ", "mlmon: warning: ")) for line in lines), lines
    assert any(expected in line for line in lines if line.startswith("mlmon: error: ")), lines
    assert "Traceback" not in err and out == ""
    assert seconds < FAST_SECONDS, f"{case}: {seconds:.2f} s"
    assert _tree(project.parent) == before


def test_check_reports_every_problem_on_its_own_line(project):
    _edit(project, lambda m: (m["features"]["categorical"].extend(["nope", "nada"]), m.__setitem__("prediction", "p")))
    code, _, err, _ = mlmon("check", "-p", "mlmon.yaml", cwd=project.parent)
    errors = [line for line in err.splitlines() if line.startswith("mlmon: error: ")]
    assert code == 2
    # each missing feature in the reference and in the logs, and the prediction column
    assert sum("'nope'" in e for e in errors) == 2 and sum("'nada'" in e for e in errors) == 2
    assert any("prediction column 'p'" in e for e in errors)
    assert any("not loaded yet" in line for line in err.splitlines())


def test_check_of_a_good_project_says_ok_and_what_it_found(project):
    code, out, err, _ = mlmon("check", "-p", "mlmon.yaml", cwd=project.parent)
    assert code == 0, err
    assert out.startswith("mlmon.yaml: ok")
    assert "2,400 rows, 8 chunks of 300" in out
    assert "1,400 rows from 2026-10-05 00:00 UTC to 2026-10-11" in out
    assert "model model.skops (Pipeline) loaded; called as predict_proba(rows[4 feature columns])" in out
    assert "8 chunks of 300 rows instead of 20" in err  # a warning, not a problem
    assert not (project.parent / "reports").exists()


def test_check_loads_the_model_and_scores_reference_rows(project):
    """A model fed a column it was not trained on fails when scoring, which `mlmon check` tries."""
    _edit(project, lambda m: m["versions"]["1"].__setitem__("model", "other.skops"))
    import numpy as np
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"device": [0.0, 1.0, 0.0, 1.0], "region": [1.0, 0.0, 0.0, 1.0]})
    sio.dump(LogisticRegression().fit(X, np.array([0, 1, 0, 1])), project.parent / "other.skops")
    code, _, err, _ = mlmon("check", "-p", "mlmon.yaml", cwd=project.parent)
    assert code == 2
    assert "failed to score" in err, err


@pytest.mark.parametrize("command, mutate, extra, expected", [
    ("run", None, ["-n", "nope"], "unknown notebook 'nope'"),
    ("run", lambda p: _edit(p, lambda m: m["features"]["categorical"].append("nope")), [], "column 'nope'"),
    ("run", lambda p: _edit(p, lambda m: m.__setitem__("prediction", "proba")), [], "prediction column 'proba'"),
    ("baseline", _shrink_reference, [], "reference has 1,000 rows: at least 2,400 are needed"),
    ("baseline", lambda p: _edit(p, lambda m: m["features"]["categorical"].append("nope")), [], "column 'nope'"),
], ids=["run: unknown notebook", "run: missing column", "run: missing prediction column",
        "baseline: reference too small", "baseline: missing column"])
def test_run_and_baseline_refuse_bad_input_before_a_kernel(project, command, mutate, extra, expected):
    if mutate:
        mutate(project)
    before = _tree(project.parent)
    args = [command, "-p", "mlmon.yaml", "-m", "churn", "-v", "1", *extra]
    if command == "run":
        args += ["-w", od.WEEK]
    code, out, err, seconds = mlmon(*args, cwd=project.parent)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and expected in err, err
    assert seconds < FAST_SECONDS, f"{command}: {seconds:.2f} s"
    assert _tree(project.parent) == before  # no archive, no baseline-failed/ folder


def test_refusals_import_neither_pandas_nor_a_kernel(project):
    """What makes them fast: the checks read the files' schemas through DuckDB only."""
    _edit(project, lambda m: m["features"]["categorical"].append("nope"))
    probe = ("import sys\nfrom mlmon_nb.cli import entry\n"
             "sys.argv = ['mlmon', *sys.argv[1:]]\n"
             "try:\n    entry()\nexcept SystemExit as exc:\n"
             "    print(exc.code, sorted(m for m in ('pandas', 'jupyter_client', 'sklearn') if m in sys.modules))\n")
    for args in (["run", "-w", od.WEEK], ["baseline"]):
        done = subprocess.run([sys.executable, "-c", probe, args[0], "-p", "mlmon.yaml", "-m", "churn", "-v", "1",
                               *args[1:]], cwd=project.parent, capture_output=True, text=True, timeout=120)
        assert done.stdout.split() == ["2", "[]"], (done.stdout, done.stderr)


def test_baseline_from_a_window_counts_the_window_rows(project):
    code, _, err, _ = mlmon("baseline", "-p", "mlmon.yaml", "-m", "churn", "-v", "1",
                            "-w", "2026-10-05/2026-10-06", cwd=project.parent)
    assert code == 2
    assert "the window 2026-10-05T00:00:00+00:00/2026-10-06T00:00:00+00:00 of" in err
    assert "has 200 rows: at least 2,400 are needed" in err


# --------------------------------------------------------------------------- the reference minimum


@pytest.mark.parametrize("rows, wanted, chunks", [
    (2_400, 20, 8), (2_700, 20, 9), (3_000, 20, 10), (4_999, 20, 10),
    # unchanged from the rule before smaller references were allowed: 500-row chunks, 10 to `wanted`
    (5_000, 20, 10), (7_000, 20, 14), (10_000, 20, 20), (1_000_000, 20, 20), (50_000, 10, 10), (50_000, 40, 40),
])
def test_chunk_count(rows, wanted, chunks):
    n, notes = preflight.chunk_count(rows, wanted)
    assert n == chunks
    assert rows // n >= preflight.MIN_CHUNK_ROWS
    assert bool(notes) == (rows < 5_000 and n < wanted)


def test_below_the_minimum_names_rows_found_and_needed():
    assert preflight.MIN_REFERENCE_ROWS == preflight.MIN_CHUNKS * preflight.MIN_CHUNK_ROWS == 2_400
    with pytest.raises(DataError, match=r"reference has 2,399 rows: at least 2,400 are needed \(8 chunks of 300 rows\)"):
        preflight.chunk_count(2_399)


def test_eight_chunks_keep_false_alarms_near_those_of_ten():
    """The derivation of MIN_CHUNKS: a new chunk-sized value falls outside mean ± 3 sd of k chunks
    with the two-sided probability of Student's t with k - 1 degrees of freedom at 3 / sqrt(1 + 1/k)."""
    from scipy import stats

    def outside(k: int) -> float:
        return 2 * stats.t.sf(3 / (1 + 1 / k) ** 0.5, k - 1)

    assert outside(preflight.MIN_CHUNKS) == pytest.approx(0.026, abs=0.001)
    assert outside(10) == pytest.approx(0.019, abs=0.001) and outside(5) > 2 * outside(10)


# --------------------------------------------------------------------------- DuckDB types as data.py reads them

TYPES = ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "UBIGINT", "FLOAT", "DOUBLE",
         "REAL", "DECIMAL(18,3)", "BOOLEAN", "VARCHAR", "ENUM('a', 'b')", "DATE", "TIMESTAMP",
         "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIME", "INTERVAL", "BLOB", "UUID", "INTEGER[]",
         "STRUCT(a INTEGER)", "NULL", '"NULL"']


@pytest.mark.parametrize("dtype", TYPES)
def test_types_are_read_as_mlmon_nb_data_reads_them(dtype, tmp_path):
    """preflight repeats data.py's type rules without importing pandas: both must agree."""
    assert preflight.is_numeric(dtype) == data._is_numeric(dtype)
    assert preflight.is_timestamp(dtype) == data._is_timestamp(dtype)
    types = {"a": dtype, "ts": "TIMESTAMP", "y": "BIGINT"}
    assert preflight.infer_features(types, ["ts", "y"]) == data.infer_features(types, ["ts", "y"])
    path = tmp_path / "mlmon.yaml"
    path.write_text(yaml.safe_dump(PROJECT))
    mcfg = load_project(path).model("churn")
    source = type("Source", (), {"where": "models.churn.logs", "path": tmp_path / "logs"})()
    for group in ("numeric", "categorical"):
        mine = preflight.feature_problem(preflight.Table(source, types), "a", group, mcfg)
        try:
            data._check_features(types, FeaturesConfig(**{group: ("a",)}), source, mcfg)
            theirs = None
        except DataError as exc:
            theirs = str(exc)
        assert (str(mine) if mine else None) == theirs, (group, dtype)


def test_non_feature_columns_are_those_of_data(tmp_path):
    cfg = yaml.safe_load(yaml.safe_dump(PROJECT))
    cfg["models"]["churn"].update({
        "labels": {"path": "labels", "key": "rid"}, "version_column": "v",
        "operational": {"latency_ms": "lat", "request_id": "rid", "error": "err"},
        "feedback": {"user": "u", "item": "i", "exposed": "shown", "outcome": "churned", "training_provenance": "tp"}})
    (tmp_path / "mlmon.yaml").write_text(yaml.safe_dump(cfg))
    mcfg = load_project(tmp_path / "mlmon.yaml").model("churn")
    assert preflight.non_feature_columns(mcfg) == data.non_feature_columns(mcfg)


def _multiclass(tmp_path: Path, **change) -> Path:
    root = od.multiclass(tmp_path / "mc", n_logs=300)
    body = {"task": "multiclass_classification", "timestamp": "ts", "prediction": "prediction", "target": "segment",
            "reference": "reference.parquet", "logs": "logs", "versions": {"1": {"model": "model.skops"}}, **change}
    (root / "mlmon.yaml").write_text(yaml.safe_dump({"archive": "reports", "models": {"mc": body}}))
    return root / "mlmon.yaml"


def test_a_multiclass_version_needs_its_model_file(tmp_path):
    from mlmon_nb.onboard import check

    report = check(_multiclass(tmp_path, versions={"1": {}}))
    assert [str(p) for p in report.problems] == [
        "models.mc.versions.1.model: a multiclass_classification version needs its model file: the baseline and "
        "the windows use every class probability, which a prediction column does not hold"]


def test_a_multiclass_target_holds_class_indices(tmp_path):
    from mlmon_nb.onboard import check

    path = _multiclass(tmp_path)
    assert check(path).ok
    ref = pd.read_parquet(path.parent / "reference.parquet")
    ref["segment"] = ref["segment"].map({0: "low", 1: "mid", 2: "high"})
    ref.to_parquet(path.parent / "reference.parquet", index=False)
    problems = [str(p) for p in check(path).problems]
    assert len(problems) == 1 and "holds 'high', 'low', 'mid'; a multiclass target holds class indices" in problems[0]
