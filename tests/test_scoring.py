"""Tests of mlmon_nb.engines.scoring (issue 17, item 3): a scored scan carries models.score's output
for the same rows on DuckDB and on Spark (local[2]); DuckDB scores in batches of at most
batch_rows rows and its spill is gone after close, after an error in the block and after a failed
scoring; data drift in summary mode without logged scores scores every row and decides the
prediction drift as it does with the logged scores."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlmon_nb.checks import Recorder
from mlmon_nb.config import load_project
from mlmon_nb.data import read_window
from mlmon_nb.engines import engine_for, scoring
from mlmon_nb.errors import UsageError
from mlmon_nb.models import SCORE_BATCH_ROWS, load_model, score

from conftest import copy_demo
from test_engines import needs_spark


@pytest.fixture(scope="module")
def setting(demo):
    """(project, model config, loaded model, window start, end, read_window's frame, its scores)."""
    project = load_project(demo.project_path)
    mcfg = project.model(demo.model)
    model = load_model(mcfg, project.version(demo.model, demo.version))
    start, end = demo.windows[0]
    frame = read_window(mcfg, start, end, version=demo.version).frame
    return project, mcfg, model, start, end, frame, score(model, frame, list(model.features))


@pytest.fixture
def duck(setting, demo):
    project, mcfg, _, start, end, _, _ = setting
    engine = engine_for(project, mcfg)
    yield engine.window(mcfg, start, end, version=demo.version)
    engine.close()


def _by_request(table: pa.Table) -> dict:
    rows = table.to_pydict()
    return dict(zip(rows["request_id"], rows["__score__"]))


def _expected(setting) -> dict:
    frame, want = setting[5], setting[6]
    return dict(zip(frame["request_id"].tolist(), want.tolist()))


def test_duckdb_scored_scan_holds_models_score_of_the_same_rows(duck, setting):
    with duck.scored(setting[2], batch_rows=700, keep=["request_id", "ts"]) as s:
        assert list(s.columns) == ["request_id", "ts", "__score__"] and s.columns["__score__"] == "DOUBLE"
        assert s.rows == duck.rows
        got = _by_request(s.aggregate("SELECT request_id, __score__ FROM window_rows"))
        daily = s.aggregate("SELECT count(*) AS n, sum(__score__) AS total FROM window_rows")
    assert got == _expected(setting)  # exactly: the same function on the same typed rows
    assert daily.column("total")[0].as_py() == pytest.approx(float(np.sum(setting[6])), rel=1e-12)


def test_batches_never_exceed_batch_rows(duck, setting, monkeypatch):
    sizes = []
    real = scoring.score_column

    def counting(model, frame, columns=None):
        sizes.append(len(frame))
        return real(model, frame, columns)

    monkeypatch.setattr(scoring, "score_column", counting)
    with duck.scored(setting[2], batch_rows=500, keep=["request_id"]) as s:
        assert s.batches == len(sizes)
    assert sum(sizes) == duck.rows and max(sizes) <= 500
    assert len(sizes) >= -(-duck.rows // 500)


def test_spill_is_removed_on_close_on_an_error_in_the_block_and_when_scoring_fails(duck, setting, tmp_path,
                                                                                   monkeypatch):
    s = duck.scored(setting[2], keep=["ts"], spill_dir=tmp_path)
    assert s.spill.parent == tmp_path and any(s.spill.iterdir())
    s.close()
    assert not s.spill.exists()
    with pytest.raises(RuntimeError, match="in the block"):
        with duck.scored(setting[2], keep=["ts"], spill_dir=tmp_path) as s:
            spill = s.spill
            raise RuntimeError("in the block")
    assert not spill.exists()
    calls = []

    def interrupted(model, frame, columns=None):  # Ctrl-C in the middle of the scoring pass
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return np.zeros(len(frame))

    monkeypatch.setattr(scoring, "score_column", interrupted)
    with pytest.raises(KeyboardInterrupt):
        duck.scored(setting[2], batch_rows=300, spill_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_scoring_pass_reports_its_progress_and_the_scored_scan_keeps_the_reporter(duck, setting):
    seen = []

    class Progress:  # the shape of mlmon_nb.progress.Reporter.scan
        @contextlib.contextmanager
        def scan(self, label, total, fraction):
            seen.append((label, total, fraction()))
            yield
            seen.append((label, total, fraction()))

    duck.progress = Progress()
    with duck.scored(setting[2], keep=["ts"]) as s:
        assert s.progress is duck.progress
    assert seen == [("scoring the window's rows", duck.rows, 0.0), ("scoring the window's rows", duck.rows, 1.0)]


def test_bad_arguments_are_named(duck, setting):
    with pytest.raises(UsageError, match="'batch_rows' parameter of Scan.scored must be an int >= 1. Got 0"):
        duck.scored(setting[2], batch_rows=0)
    with pytest.raises(UsageError, match="'column' parameter .* Got 'price'"):
        duck.scored(setting[2], column="price")
    with pytest.raises(UsageError, match="'keep' parameter .* Got 'nope'"):
        duck.scored(setting[2], keep=["nope"])


def test_the_baseline_scores_the_reference_in_bounded_batches_with_identical_results(setting, monkeypatch):
    import mlmon_nb.models as models

    frame, model = setting[5], setting[2]
    whole = np.asarray(model.estimator.predict_proba(models.model_input(frame, model.features)))[:, 1]
    monkeypatch.setattr(models, "SCORE_BATCH_ROWS", 256)
    assert np.array_equal(models.score(model, frame), whole)
    assert SCORE_BATCH_ROWS == 100_000


# --------------------------------------------------------------------------- Spark (local[2])

@needs_spark
def test_spark_scored_scan_holds_models_score_of_the_same_rows(setting, demo):
    from mlmon_nb.config import EngineConfig
    from mlmon_nb.engines import SparkEngine

    project, mcfg, model, start, end, _, _ = setting
    fast = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
    engine = SparkEngine(project, EngineConfig(name="spark", master="local[2]", conf=fast, key="engine.spark"))
    try:
        scan = engine.window(mcfg, start, end, version=demo.version)
        with scan.scored(model, batch_rows=400, keep=["request_id", "ts"]) as s:
            assert s.engine == "spark" and list(s.columns) == ["request_id", "ts", "__score__"]
            got = _by_request(s.aggregate("SELECT request_id, __score__ FROM window_rows"))
            view = s.view
        assert not engine.spark.catalog.tableExists(view)
    finally:
        engine.close()
    want = _expected(setting)
    assert got.keys() == want.keys()
    assert max(abs(got[k] - want[k]) for k in want) <= 1e-12


# --------------------------------------------------------------------------- data drift without logged scores

def _prediction_check(project_path, model, version, window):
    import mlmon_nb as mn

    ctx = mn.open_window(project_path, model, version, window, notebook="data_drift", reference_rows=False,
                         summarise=True)
    dd = mn.drift.analyse(ctx)
    rec = Recorder("data_drift", None)
    dd.record(rec)
    [check] = [c for c in rec.checks if c.kind == "prediction_drift"]
    return check, dd


def test_summary_mode_without_logged_scores_scores_every_row_and_decides_the_same(demo, tmp_path, monkeypatch):
    # A temp folder of this test's own: the other worker's runs spill into the shared one meanwhile.
    spill_root = tmp_path / "tmp"
    spill_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_root))
    start, end = demo.windows[4]
    window = f"{start.isoformat()}/{end.isoformat()}"
    copy = copy_demo(demo, tmp_path)
    for path in sorted((copy.parent / "data" / "logs").rglob("*.parquet")):  # the logs lose their scores
        table = pq.read_table(path)
        i = table.schema.get_field_index("score")
        pq.write_table(table.set_column(i, "score", pa.nulls(table.num_rows, pa.float64())), path)
    logged, _ = _prediction_check(demo.project_path, demo.model, demo.version, window)
    scored, dd = _prediction_check(copy, demo.model, demo.version, window)
    assert "scored with the version's model file, all" in dd.prediction.source
    assert (scored.subject, scored.method, scored.status) == (logged.subject, logged.method, logged.status)
    # The logged scores are the served version's own: the same rows give the same figure.
    assert scored.value == pytest.approx(logged.value, abs=1e-9)
    assert not list(spill_root.glob("mlmon-scored-*"))  # the spill is gone with the analysis
