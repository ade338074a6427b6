"""Concept drift on Spark (issue 17, "Done when"): the demo's concept-flip week gives the same decided
checks (kind, subject, status) with ``engine: spark`` (local[2]) as with DuckDB in memory, and the
realized figures agree within the binned bounds (mlmon_nb/summary/performance.py)."""

from __future__ import annotations

import numpy as np
import pytest

from test_concept_summary import _checks, _same_checks
from test_engines import demo_on_spark, needs_spark

pytestmark = needs_spark


@pytest.fixture(scope="module")
def on_spark(demo, tmp_path_factory):
    return demo_on_spark(demo, tmp_path_factory.mktemp("spark-concept"))


def test_spark_gives_the_in_memory_concept_checks_on_the_flip_week(demo, on_spark):
    start, end = demo.windows[7]  # week 8: the effect of discount_pct flips at 2026-10-28 12:00
    window = f"{start.isoformat()}/{end.isoformat()}"
    memory, rm = _checks(demo.project_path, demo.model, demo.version, window, False)
    spark, rs = _checks(on_spark, demo.model, demo.version, window, None)  # engine spark: always summarised
    _same_checks(memory, spark, rm, rs)
    assert rs.status == "alert" and rs.how[0].startswith("Summary mode")
    a, b = rm.chunks.to_df(), rs.chunks.to_df()
    assert list(a["rows"]) == list(b["rows"]) and list(a["labelled"]) == list(b["labelled"])
    for m in rm.spec.metrics:
        x, y = a[a["metric"] == m], b[b["metric"] == m]
        assert np.allclose(x["realized"], y["realized"], atol=0.002, equal_nan=True), m
