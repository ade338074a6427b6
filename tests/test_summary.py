"""mlmon_nb.summary: statistics from one aggregation pass agree with the exact in-memory ones within their bounds.

Each planted dataset is summarised by DuckDB (the SQL a window pass runs) and
compared with :func:`mlmon_nb.stats.numeric_against` / ``categorical_against``
on the same values: exact figures equal, bounded ones inside their bounds,
every seed.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlglot

from mlmon_nb import stats
from mlmon_nb.summary import CategoricalSubject, NumericSubject, categorical_stats, numeric_stats, summarise
from mlmon_nb.summary.sql import chunk_sql, summary_sql

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
DAY = 86400.0


class FrameScan:
    """The part of an engine's scan a summary uses, over a DataFrame (DuckDB, view ``window_rows``)."""

    def __init__(self, frame: pd.DataFrame):
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone='UTC'")
        self.con.register("window_rows", frame)

    def aggregate(self, sql: str, **params):
        return self.con.sql(sql).to_arrow_table() if hasattr(self.con.sql(sql), "to_arrow_table") else \
            self.con.sql(sql).fetch_arrow_table()


def _frame(values: dict[str, np.ndarray], days: int = 3) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    ts = pd.Timestamp(START) + pd.to_timedelta(np.linspace(0, days * DAY - 1, n), unit="s")
    return pd.DataFrame({"ts": ts, **values})


def _summary(reference: dict[str, np.ndarray], window: dict[str, np.ndarray], categorical=()):
    num = {k: NumericSubject.of(k, stats.NumericReference.from_values(v)) for k, v in reference.items()
           if k not in categorical}
    cat = {k: CategoricalSubject(k, stats.CategoricalReference.from_values(v)) for k, v in reference.items()
           if k in categorical}
    s = summarise(FrameScan(_frame(window)), num, cat, chunk_sql("ts", START, DAY))
    return num, cat, s


def _planted(kind: str, rng: np.random.Generator, n_ref: int = 40_000, n_win: int = 30_000):
    if kind == "normal":
        return rng.normal(size=n_ref), rng.normal(0.3, 1.2, size=n_win)
    if kind == "normal_null":
        return rng.normal(size=n_ref), rng.normal(size=n_win)
    if kind == "lognormal":
        return rng.lognormal(3, 1, size=n_ref), rng.lognormal(3.2, 1, size=n_win)
    if kind == "integers":
        return rng.poisson(4, size=n_ref).astype(float), rng.poisson(4.5, size=n_win).astype(float)
    if kind == "ties":  # zero-inflated with a continuous part
        r = np.where(rng.random(n_ref) < 0.4, 0.0, rng.exponential(2, n_ref))
        c = np.where(rng.random(n_win) < 0.3, 0.0, rng.exponential(2.5, n_win))
        return r, c
    if kind == "outside":  # the window entirely above the reference's range
        return rng.normal(size=n_ref), rng.normal(20, 1, size=n_win)
    if kind == "single":
        return np.full(n_ref, 7.0), np.r_[np.full(n_win - 100, 7.0), rng.normal(7, 1, 100)]
    raise ValueError(kind)


KINDS = ("normal", "normal_null", "lognormal", "integers", "ties", "outside", "single")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(3))
def test_numeric_statistics_within_their_bounds(kind, seed):
    rng = np.random.default_rng(seed)
    r, c = _planted(kind, rng)
    c = c.copy()
    c[rng.choice(len(c), 50, replace=False)] = np.nan  # missing values are left out on both paths
    num, _, s = _summary({"x": r}, {"x": c})
    ref = num["x"].reference
    exact = stats.numeric_against(ref, c, ["ks", "wasserstein", "tail", "psi", "jensen_shannon"])
    got = numeric_stats(ref, num["x"].grid, num["x"].cells, s.numeric["x"])
    eps = 1e-9
    k = got["ks"]
    assert k.detail["low"] - eps <= exact["ks"].value <= k.detail["high"] + eps
    assert k.detail["high"] - k.detail["low"] <= 0.002 + eps  # the stated bound on these data
    w = got["wasserstein"]
    assert abs(w.value - exact["wasserstein"].value) <= w.detail["bound"] + 1e-9 * max(1.0, exact["wasserstein"].value)
    for name in ("tail", "psi", "jensen_shannon"):
        if np.isnan(exact[name].value):
            assert np.isnan(got[name].value)
        else:
            assert got[name].value == pytest.approx(exact[name].value, abs=1e-12)
    if exact["tail"].p_value is not None:
        assert got["tail"].p_value == pytest.approx(exact["tail"].p_value, rel=1e-9, abs=1e-300)
    assert s.numeric["x"].missing() == 50
    assert s.numeric["x"].finite() == len(c) - 50


def test_wasserstein_bound_is_small_on_continuous_data():
    rng = np.random.default_rng(5)
    r, c = _planted("normal", rng)
    num, _, s = _summary({"x": r}, {"x": c})
    got = numeric_stats(num["x"].reference, num["x"].grid, num["x"].cells, s.numeric["x"])
    assert got["wasserstein"].detail["bound"] < 0.005


def test_per_chunk_statistics_match_the_chunks_rows():
    rng = np.random.default_rng(1)
    r, c = rng.normal(size=20_000), np.r_[rng.normal(size=10_000), rng.normal(1, 1, 10_000)]
    num, _, s = _summary({"x": r}, {"x": c}, )
    frame = _frame({"x": c})
    day = ((frame["ts"] - pd.Timestamp(START)).dt.total_seconds() // DAY).to_numpy()
    for j in range(3):
        exact = stats.numeric_against(num["x"].reference, c[day == j], ["ks"])["ks"].value
        got = numeric_stats(num["x"].reference, num["x"].grid, num["x"].cells, s.numeric["x"], chunk=j)["ks"]
        assert got.detail["low"] - 1e-9 <= exact <= got.detail["high"] + 1e-9


def test_non_finite_and_all_missing_values():
    rng = np.random.default_rng(2)
    r = rng.normal(size=5_000)
    c = rng.normal(size=3_000)
    c[:10], c[10:15], c[15:20] = np.inf, -np.inf, np.nan
    num, _, s = _summary({"x": r, "y": r}, {"x": c, "y": np.full(3_000, np.nan)})
    assert s.numeric["x"].non_finite() == 15
    assert s.numeric["x"].missing() == 20
    assert s.numeric["y"].missing() == 3_000
    got = numeric_stats(num["y"].reference, num["y"].grid, num["y"].cells, s.numeric["y"])
    assert all(np.isnan(v.value) for v in got.values())


@pytest.mark.parametrize("seed", range(3))
def test_categorical_statistics_are_exact(seed):
    rng = np.random.default_rng(seed)
    ref = rng.choice(list("abcdef"), size=8_000, p=[0.3, 0.25, 0.2, 0.15, 0.05, 0.05])
    win = rng.choice(list("abcdefgh"), size=6_000, p=[0.25, 0.25, 0.2, 0.1, 0.05, 0.05, 0.06, 0.04]).astype(object)
    win[:40] = None
    _, cat, s = _summary({"d": ref}, {"d": win}, categorical=("d",))
    cref = cat["d"].reference
    exact = stats.categorical_against(cref, pd.Series(win))
    got = categorical_stats(cref, s.categorical["d"])
    for name, st in exact.items():
        assert got[name].value == pytest.approx(st.value, abs=1e-12)
        if st.p_value is not None:
            assert got[name].p_value == pytest.approx(st.p_value, rel=1e-9)
    assert s.categorical["d"].missing() == 40


def test_unseen_levels_beyond_the_most_frequent_are_pooled():
    ref = np.array(["a", "b"] * 500)
    win = np.array([f"new{i}" for i in range(60)] * 10 + ["a"] * 400, dtype=object)
    _, cat, s = _summary({"d": ref}, {"d": win}, categorical=("d",))
    lc = s.categorical["d"].level_counts()
    assert len(lc) == 1 + 20 + 1 and lc.sum() == len(win)
    exact = stats.categorical_against(cat["d"].reference, pd.Series(win))
    got = categorical_stats(cat["d"].reference, s.categorical["d"])
    assert got["jensen_shannon"].value == pytest.approx(exact["jensen_shannon"].value)


def test_summary_size_does_not_grow_with_rows():
    rng = np.random.default_rng(3)
    r = rng.normal(size=20_000)
    sizes = []
    for n in (20_000, 200_000):
        _, _, s = _summary({"x": r}, {"x": rng.normal(size=n)})
        sizes.append(s.rows_out)
    assert sizes[1] <= 3 * 2_100  # at most chunks × cells, whatever the rows
    assert sizes[1] < 1.5 * sizes[0] + 500


def test_sql_transpiles_to_spark():
    rng = np.random.default_rng(0)
    num = {"x": NumericSubject.of("x", stats.NumericReference.from_values(rng.lognormal(size=5_000)))}
    cat = {"d": CategoricalSubject("d", stats.CategoricalReference.from_values(np.array(["a", "b"] * 10)))}
    sql = summary_sql({k: (v.column, v.grid) for k, v in num.items()}, {k: (v.column, v.known) for k, v in cat.items()},
                      chunk_sql("ts", START, DAY))
    spark = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
    assert "UNION ALL" in spark and "UNIX_TIMESTAMP" in spark and "LN(" in spark and "DENSE_RANK()" in spark
    assert num["x"].grid.log  # log-normal data: the log grid holds it evenly
