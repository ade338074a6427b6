"""Data drift on Spark (issue 17, "Done when"): the same demo windows give the same checks (kind,
subject, status) with ``engine: spark`` (local[2]) as with DuckDB in memory, every statistic of the
summary agrees with the exact in-memory value within its stated bound, and a named pass reports its
progress from Spark's status tracker."""

from __future__ import annotations

import numpy as np
import pytest

from mlmon_nb import drift, progress
from mlmon_nb.checks import Recorder

from test_engines import demo_on_spark, needs_spark

pytestmark = needs_spark


@pytest.fixture(scope="module")
def on_spark(demo, tmp_path_factory):
    return demo_on_spark(demo, tmp_path_factory.mktemp("spark-drift"))


def _open(path, demo, week: int, **kw):
    import mlmon_nb as mn

    start, end = demo.windows[week - 1]
    return mn.open_window(path, demo.model, demo.version, f"{start.isoformat()}/{end.isoformat()}",
                          notebook="data_drift", reference_rows=False, **kw)


def _checks(dd) -> dict[tuple[str, str], str]:
    rec = Recorder("data_drift", None)
    dd.record(rec)
    return {(c.kind, c.subject): c.status for c in rec.checks}


@pytest.mark.parametrize("week", [4, 5])  # quiet, then price and device drifted
def test_spark_gives_the_in_memory_checks_and_statistics_within_their_bounds(demo, on_spark, week):
    exact = _open(demo.project_path, demo, week, summarise=False)
    spark = _open(on_spark, demo, week)  # engine spark: always summarised, never read into pandas
    assert spark.engine.name == "spark" and spark.scan is not None and spark.current.frame.empty
    memory, summarised = drift.analyse(exact), drift.analyse(spark)
    assert _checks(summarised) == _checks(memory)
    for name in demo.ground_truth["features"]["numeric"] if "features" in demo.ground_truth else ("price",):
        a, b = memory.univariate.get(name), summarised.univariate.get(name)
        ks_a, ks_b = a.parts[0], b.parts[0]
        assert ks_a.method == ks_b.method == "ks"
        # KS from cell edges: a lower bound within 0.002 of the exact value (the summary's stated bound)
        assert ks_b.value <= ks_a.value + 1e-12 and ks_a.value - ks_b.value <= 0.002, name
    for name in ("device", "region", "category"):
        assert summarised.univariate.get(name).value == pytest.approx(memory.univariate.get(name).value, abs=1e-12)
    if week == 5:
        assert {s for (k, s), st in _checks(summarised).items() if k == "feature_drift" and st == "alert"} >= {
            "price", "device"}


def test_a_named_spark_pass_reports_progress_from_the_status_tracker(demo, on_spark, tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "POLL_SECONDS", 0.05)
    ctx = _open(on_spark, demo, 5)
    written: list[tuple[str, int, int]] = []
    reporter = progress.Reporter(tmp_path, "data_drift")
    monkeypatch.setattr(reporter, "write", lambda label, done, total: written.append((label, done, total)))
    ctx.scan.progress = reporter
    shares = []
    real = ctx.scan._scanned_share

    def spy():
        share = real()
        shares.append(share)
        return share

    monkeypatch.setattr(ctx.scan, "_scanned_share", spy)
    sql = ("SELECT device AS d, count(*) AS n, sum(CASE WHEN price > 40 THEN 1 ELSE 0 END) AS above "
           "FROM window_rows GROUP BY 1")
    ctx.scan.aggregate(sql, pass_name="summary of the window")
    rows = ctx.rows
    assert written[-1] == ("summary of the window", rows, rows)
    known = [s for s in shares if s is not None]
    assert all(0.0 <= s <= 1.0 for s in known)
    assert np.all(np.diff([d for _, d, _ in written]) >= 0)
