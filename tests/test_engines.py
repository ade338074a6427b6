"""Tests of mlmon_nb.engines: a scan's aggregations agree with pandas on read_window's frame; the
sample is bounded, seeded, stratified and reproducible; the same aggregation text gives the same
numbers on DuckDB and on Spark (local[2]); bad engine input exits 2 with one line, nothing written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import copy_demo
from mlmon_nb.config import load_project
from mlmon_nb.data import read_reference, read_window
from mlmon_nb.engines import DuckDBEngine, allocate, engine_for, inline
from mlmon_nb.errors import UsageError

UTC = dt.timezone.utc

DAILY = ("SELECT CAST(date_trunc('day', ts) AS DATE) AS day, count(*) AS n, sum(price) AS price_sum, "
         "count(clicked) AS labelled, coalesce(sum(clicked), 0) AS clicks, avg(score) AS score_mean "
         "FROM window_rows GROUP BY 1 ORDER BY 1")
BY_LEVEL = ("SELECT device, count(*) AS n, sum(CASE WHEN price > $cut THEN 1 ELSE 0 END) AS above, "
            "min(price) AS lo, max(price) AS hi FROM window_rows WHERE device IN $devices GROUP BY 1 ORDER BY 1")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A small demo project (one week of logs, late labels, two serving versions)."""
    from mlmon_nb.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("engines") / "demo", scale=0.1, weeks=1, seed=0)


@pytest.fixture(scope="module")
def project(demo):
    return load_project(demo.project_path)


@pytest.fixture(scope="module")
def window(demo, project):
    start, end = demo.windows[0]
    frame = read_window(project.model(demo.model), start, end, version=demo.version).frame
    return start, end, frame


@pytest.fixture(scope="module")
def duck(demo, project, window):
    engine = engine_for(project, demo.model)
    yield engine.window(demo.model, window[0], window[1], version=demo.version)
    engine.close()


def test_default_engine_is_duckdb(project, demo):
    engine = engine_for(project, demo.model)
    assert isinstance(engine, DuckDBEngine) and engine.name == "duckdb"
    engine.close()


def test_scan_rows_and_columns_match_read_window(duck, window):
    frame = window[2]
    assert duck.rows == len(frame)
    assert list(duck.columns) == list(frame.columns)
    assert duck.columns["ts"] == "TIMESTAMP WITH TIME ZONE"
    assert duck.columns["price"] == "DOUBLE" and duck.columns["device"] == "VARCHAR"


def test_daily_aggregates_agree_with_pandas(duck, window):
    frame = window[2]
    got = duck.aggregate(DAILY).to_pandas()
    day = frame["ts"].dt.tz_convert("UTC").dt.date
    want = frame.assign(day=day).groupby("day").agg(
        n=("ts", "size"), price_sum=("price", "sum"), labelled=("clicked", "count"),
        clicks=("clicked", "sum"), score_mean=("score", "mean")).reset_index()
    assert [d for d in got["day"]] == list(want["day"])
    assert got["n"].tolist() == want["n"].tolist()
    assert got["labelled"].tolist() == want["labelled"].tolist()
    assert got["clicks"].astype(int).tolist() == want["clicks"].astype(int).tolist()
    assert got["price_sum"].to_numpy() == pytest.approx(want["price_sum"].to_numpy(), rel=1e-12)
    assert got["score_mean"].to_numpy() == pytest.approx(want["score_mean"].to_numpy(), rel=1e-12)


def test_parameters_are_inlined_as_literals(duck, window):
    frame = window[2]
    devices = ("mobile", "desktop")
    got = duck.aggregate(BY_LEVEL, cut=40.0, devices=devices).to_pandas()
    sub = frame[frame["device"].isin(devices)]
    want = sub.groupby("device", observed=True)["price"].agg(["size", lambda s: int((s > 40.0).sum()), "min", "max"])
    assert got["device"].tolist() == sorted(devices)
    assert got["n"].tolist() == want.loc[got["device"], "size"].tolist()
    assert got["above"].astype(int).tolist() == want.loc[got["device"]].iloc[:, 1].tolist()
    assert got["hi"].tolist() == want.loc[got["device"], "max"].tolist()


def test_inline_leaves_quotes_and_comments_and_names_a_missing_value():
    sql = "SELECT '$a' AS \"$a\", $a AS x -- $a\nFROM window_rows WHERE d >= $day"
    out = inline(sql, {"a": "it's", "day": dt.date(2026, 9, 7)})
    assert out == "SELECT '$a' AS \"$a\", 'it''s' AS x -- $a\nFROM window_rows WHERE d >= DATE '2026-09-07'"
    with pytest.raises(UsageError, match=r"\$cut, which has no value; given: a"):
        inline("SELECT $cut", {"a": 1})


def test_reference_scan_matches_read_reference(project, demo):
    mcfg = project.model(demo.model)
    frame = read_reference(mcfg).frame
    with engine_for(project, demo.model) as engine:
        ref = engine.reference(demo.model)
        assert ref.rows == len(frame)
        got = ref.aggregate("SELECT sum(price) AS s, count(clicked) AS c FROM window_rows")
        assert got.column("s")[0].as_py() == pytest.approx(frame["price"].sum(), rel=1e-12)
        assert got.column("c")[0].as_py() == frame["clicked"].count()


def test_allocation_is_proportional_bounded_and_keeps_small_strata():
    counts = [5000, 3000, 1990, 10]
    alloc = allocate(counts, 1000)
    assert sum(alloc) == 1000 and alloc[-1] >= 1
    assert alloc[:3] == pytest.approx([500, 300, 199], abs=1)
    assert allocate([10, 20], 1000) == [10, 20]
    assert sum(allocate([1] * 50, 20)) == 20


def test_sample_is_bounded_stratified_seeded_and_reproducible(duck, window):
    frame = window[2]
    n = 400
    a = duck.sample(n, strata=["__day__", "clicked"], seed=3)
    b = duck.sample(n, strata=["__day__", "clicked"], seed=3)
    c = duck.sample(n, strata=["__day__", "clicked"], seed=4)
    assert len(a) == n
    pd.testing.assert_frame_equal(a, b)
    assert set(a["request_id"]) != set(c["request_id"])
    assert set(a["request_id"]) <= set(frame["request_id"])
    assert a["request_id"].is_unique
    assert a.dtypes.to_dict() == frame.dtypes.to_dict()
    # Each stratum's share is its share of the window (within a row of rounding), rare ones kept.
    key = lambda f: list(zip(f["ts"].dt.date, f["clicked"].astype("float").fillna(-1)))  # noqa: E731
    want = pd.Series(key(frame)).value_counts()
    got = pd.Series(key(a)).value_counts().reindex(want.index, fill_value=0)
    expected = want * n / len(frame)
    assert (got - expected).abs().max() <= 1.0 + 1e-9
    assert (got >= 1).all()


def test_sample_larger_than_the_scan_is_the_scan(duck, window):
    got = duck.sample(10 * len(window[2]), strata=[], seed=0)
    assert len(got) == len(window[2])
    assert sorted(got["request_id"]) == sorted(window[2]["request_id"])


def test_sample_refuses_bad_arguments(duck):
    with pytest.raises(UsageError, match="The 'n' parameter of Scan.sample must be an int >= 1. Got 0 instead."):
        duck.sample(0, strata=[], seed=0)
    with pytest.raises(UsageError, match="must name columns of the scan or '__day__'. Got 'nope' instead"):
        duck.sample(10, strata=["nope"], seed=0)


# --------------------------------------------------------------------------- Spark (local[2])

def _spark_missing() -> str | None:
    from mlmon_nb import sparkenv

    missing = sparkenv.missing_packages()
    if missing:
        return f"{' and '.join(missing)} not installed ({sparkenv.EXTRA}; ./dev.sh test installs it)"
    if sparkenv.java() is None:
        return "no Java for a local Spark driver (JAVA_HOME or java on PATH; Java 17+)"
    return None


needs_spark = pytest.mark.skipif(_spark_missing() is not None, reason=str(_spark_missing()))
# The JVM's quick compiler only and a serial collector: a few seconds less to start and warm up.
FAST_JVM = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
LOCAL = {"spark": {"master": "local[2]", "conf": FAST_JVM}}


def demo_on_spark(demo, folder: Path) -> Path:
    """A private copy of the session demo whose project file says ``engine: {spark: local[2]}``."""
    path = copy_demo(demo, folder)
    cfg = yaml.safe_load(path.read_text())
    cfg["engine"] = LOCAL
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def spark_engine(project):
    """One local[2] session for the module (a JVM start costs seconds); the engine's views dropped after."""
    from mlmon_nb.config import EngineConfig
    from mlmon_nb.engines import SparkEngine

    engine = SparkEngine(project, EngineConfig(name="spark", master="local[2]", conf=FAST_JVM, key="engine.spark"))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def spark_scan(spark_engine, demo, window):
    return spark_engine.window(demo.model, window[0], window[1], version=demo.version)


def _same(a, b) -> None:
    """Two aggregation results are equal: counts exactly, other numbers to 1e-9 relative."""
    assert a.column_names == b.column_names
    assert a.num_rows == b.num_rows
    for name in a.column_names:
        x, y = a.column(name).to_pylist(), b.column(name).to_pylist()
        for u, v in zip(x, y):
            if isinstance(u, (int, float)) and not isinstance(u, bool) or u.__class__.__name__ == "Decimal":
                if float(u) == int(float(u)) and float(v) == int(float(v)):
                    assert int(u) == int(v), (name, u, v)
                else:
                    assert float(u) == pytest.approx(float(v), rel=1e-9), (name, u, v)
            else:
                assert u == v, (name, u, v)


@needs_spark
def test_spark_scan_has_the_same_rows_and_columns(spark_scan, duck):
    assert spark_scan.engine == "spark"
    assert spark_scan.columns == duck.columns
    assert spark_scan.rows == duck.rows


@needs_spark
@pytest.mark.parametrize("sql, params", [
    (DAILY, {}),
    (BY_LEVEL, {"cut": 40.0, "devices": ("mobile", "desktop", "tablet")}),
    ("SELECT region, category, count(*) AS n, count(*) FILTER (WHERE shown) AS exposed, "
     "sum(latency_ms) AS latency, avg(CASE WHEN clicked IS NULL THEN NULL ELSE score END) AS labelled_score "
     "FROM window_rows GROUP BY ALL ORDER BY 1, 2", {}),
    ("SELECT floor(score * 10) AS bin, clicked AS y, count(*) AS n FROM window_rows "
     "WHERE ts >= $since GROUP BY 1, 2 ORDER BY 1, 2 NULLS FIRST",
     {"since": dt.datetime(2026, 9, 10, tzinfo=UTC)}),
], ids=["daily", "levels with parameters", "group by all, filter", "score bins x label"])
def test_same_aggregation_text_same_result_on_both_engines(spark_scan, duck, sql, params):
    _same(spark_scan.aggregate(sql, **params), duck.aggregate(sql, **params))


@needs_spark
def test_a_query_reading_the_rows_many_times_persists_them_once_until_close(spark_engine, demo, duck, window):
    from mlmon_nb.engines import spark as spark_module

    scan = spark_engine.window(demo.model, window[0], window[1], version=demo.version)
    branch = "SELECT {i} AS k, count(*) AS n, sum(price) AS s FROM window_rows WHERE price > {i}"
    once = branch.format(i=0)
    many = " UNION ALL ".join(branch.format(i=i) for i in range(spark_module.PERSIST_READS)) + " ORDER BY k"
    _same(scan.aggregate(once), duck.aggregate(once))
    assert not scan._frame.is_cached  # a query reading the rows once does not persist them
    _same(scan.aggregate(many), duck.aggregate(many))
    assert scan._frame.is_cached and scan._frame.storageLevel.useDisk
    _same(scan.aggregate(once), duck.aggregate(once))  # later queries read the persisted rows, same result
    scan.close()
    assert not scan._frame.is_cached
    # Whole-stage methods HotSpot would not compile are split (unless the session set its own limit).
    assert spark_engine.spark.conf.get(spark_module.HUGE_METHOD[0]) == spark_module.HUGE_METHOD[1]


@needs_spark
def test_spark_sample_is_bounded_stratified_and_reproducible(spark_scan, duck, window):
    frame = window[2]
    a = spark_scan.sample(300, strata=["__day__", "clicked"], seed=5)
    b = spark_scan.sample(300, strata=["__day__", "clicked"], seed=5)
    assert len(a) == 300
    pd.testing.assert_frame_equal(a, b)
    assert a.dtypes.to_dict() == frame.dtypes.to_dict()
    assert set(a["request_id"]) <= set(frame["request_id"]) and a["request_id"].is_unique
    # The same allocation as DuckDB's: equal counts per stratum (the rows drawn differ: each
    # engine's own hash function picks them).
    d = duck.sample(300, strata=["__day__", "clicked"], seed=5)
    per = lambda f: f.groupby([f["ts"].dt.date, f["clicked"].astype("float").fillna(-1)]).size()  # noqa: E731
    pd.testing.assert_series_equal(per(a), per(d))


@needs_spark
def test_spark_reads_a_catalog_table(spark_engine, demo, project, duck, window):
    import dataclasses

    from mlmon_nb.config import CatalogTable

    logs = spark_engine.spark.read.parquet(str(project.model(demo.model).logs))
    logs.createOrReplaceTempView("demo_events")
    mcfg = dataclasses.replace(project.model(demo.model), logs=CatalogTable("demo_events"))
    scan = spark_engine.window(mcfg, window[0], window[1], version=demo.version)
    _same(scan.aggregate(DAILY), duck.aggregate(DAILY))


@needs_spark
def test_spark_names_a_missing_catalog_table(spark_engine, demo, project, window):
    import dataclasses

    from mlmon_nb.config import CatalogTable
    from mlmon_nb.errors import DataError

    mcfg = dataclasses.replace(project.model(demo.model), logs=CatalogTable("nodb.nowhere"))
    with pytest.raises(DataError, match=r"models.ctr-ranker.logs: catalog table nodb.nowhere not found"):
        spark_engine.window(mcfg, window[0], window[1])


# --------------------------------------------------------------------------- bad input: exit 2, one line

def _project_file(demo, name: str, engine=None, model_engine=None, logs=None) -> "Path":
    """A variant of the demo's mlmon.yaml next to it (paths stay valid), with its own archive."""
    import yaml

    root = demo.project_path.parent
    cfg = yaml.safe_load(demo.project_path.read_text())
    cfg["archive"] = f"reports-{name}"
    if engine is not None:
        cfg["engine"] = engine
    if model_engine is not None:
        cfg["models"][demo.model]["engine"] = model_engine
    if logs is not None:
        cfg["models"][demo.model]["logs"] = logs
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _mlmon(path, demo, *extra_env, command="run"):
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    mlmon = str(Path(sys.executable).parent / "mlmon")
    start, end = demo.windows[0]
    args = [mlmon, "check", "-p", path.name] if command == "check" else \
        [mlmon, "run", "-p", path.name, "-m", demo.model, "-v", demo.version, "-w",
         f"{start.date().isoformat()}/{end.date().isoformat()}"]
    env = dict(os.environ, **dict(extra_env))
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=path.parent, capture_output=True, text=True, timeout=300, env=env)
    return done.returncode, done.stderr, time.perf_counter() - t0


BAD = {
    "unknown engine": ("sprak", None, "mlmon.yaml: engine: expected duckdb, spark, or a mapping", "did you mean 'spark'?"),
    "unknown spark key": ({"spark": {"mastr": "local[2]"}}, None, "engine.spark.mastr: expected one of the keys master, "
                          "remote, conf", "did you mean 'master'?"),
    "bad master": (None, {"spark": {"master": "mesos"}}, "models.ctr-ranker.engine.spark.master: expected a Spark "
                   "master URL", "got string ('mesos')"),
    "master and remote": ({"spark": {"master": "local[2]", "remote": "sc://h"}}, None,
                          "engine.spark: expected one of master (a Spark cluster) or remote (Spark Connect)", "got both"),
    "table without spark": (None, None, "models.ctr-ranker.logs: expected a path of parquet/CSV files, got the catalog "
                            "table db.events", "read by the Spark engine only"),
    "unreachable master": (None, {"spark": {"master": "spark://nohost:7077"}}, "models.ctr-ranker.engine.spark.master: "
                           "cannot reach the Spark master spark://nohost:7077", "nohost"),
    "unreachable spark connect": ({"spark": {"remote": "sc://nohost:15002"}}, None, "engine.spark.remote: cannot "
                                  "reach the Spark Connect server sc://nohost:15002", "nohost"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_engine_input_exits_2_with_one_line_and_writes_nothing(demo, case):
    engine, model_engine, expected, also = BAD[case]
    name = "bad-" + case.replace(" ", "-")
    path = _project_file(demo, name, engine, model_engine, logs={"table": "db.events"} if "table" in case else None)
    text = path.read_text()
    code, err, seconds = _mlmon(path, demo)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert expected.replace("mlmon.yaml", path.name) in err and also in err, err
    from mlmon_nb.sparkenv import CONNECT_SECONDS

    assert seconds < CONNECT_SECONDS + 2.0, f"{case}: {seconds:.2f} s"
    assert not (path.parent / f"reports-{name}").exists() and path.read_text() == text


def test_engine_spark_without_pyspark_names_the_extra(demo, tmp_path):
    """PySpark hidden from the interpreter (as on a machine without the extra)."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'pyspark':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Hide())\n")
    path = _project_file(demo, "no-pyspark", engine={"spark": {"master": "local[2]"}})
    code, err, seconds = _mlmon(path, demo, ("PYTHONPATH", str(hide)))
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert 'engine.spark: engine spark needs pyspark, not installed here: pip install "mlmon-nb[spark]"' in err, err
    assert seconds < 2.0
    assert not (path.parent / "reports-no-pyspark").exists()


@needs_spark
def test_a_missing_catalog_table_exits_2_naming_it(demo):
    path = _project_file(demo, "no-table", engine=LOCAL, logs={"table": "nodb.events"})
    code, err, _ = _mlmon(path, demo)
    assert code == 2, err
    assert err.strip().splitlines()[-1].startswith("mlmon: error: models.ctr-ranker.logs: catalog table nodb.events "
                                                    "not found (engine spark (master local[2]))"), err
    assert not (path.parent / "reports-no-table").exists() and not (path.parent / "spark-warehouse").exists()


def test_engine_config_reaches_every_model(tmp_path):
    import yaml

    from conftest import write_project

    path = write_project(tmp_path, extra={"engine": {"spark": {"master": "local[2]", "conf": {
        "spark.sql.shuffle.partitions": 8, "spark.sql.ansi.enabled": False}}}})
    project = load_project(path)
    cfg = project.engine_of("m")
    assert (cfg.name, cfg.master, cfg.remote) == ("spark", "local[2]", None)
    assert dict(cfg.conf) == {"spark.sql.shuffle.partitions": "8", "spark.sql.ansi.enabled": "false"}
    doc = yaml.safe_load(path.read_text())
    doc["models"]["m"]["engine"] = "duckdb"
    path.write_text(yaml.safe_dump(doc))
    assert load_project(path).engine_of("m").name == "duckdb"
    assert load_project(path).engine.name == "spark"
