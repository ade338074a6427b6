"""Explainability on Spark (issue 17, "Done when"): the demo's concept-flip week gives the same checks
(kind, subject, status) with ``engine: spark`` (local[2]) as with DuckDB in memory; the rows explained
come from the engine's bounded, stratified sample, which here covers the whole window."""

from __future__ import annotations

import pytest

from test_engines import demo_on_spark, needs_spark
from test_explain import _explained, explain_checks

pytestmark = needs_spark


@pytest.fixture(scope="module")
def on_spark(demo, tmp_path_factory):
    return demo_on_spark(demo, tmp_path_factory.mktemp("spark-explain"))


def test_spark_gives_the_in_memory_explainability_checks_on_the_flip_week(demo, on_spark):
    memory_ctx, memory = _explained(demo.project_path, demo, 8, False, max_rows=1000)
    ctx, spark = _explained(on_spark, demo, 8, None, max_rows=1000)  # engine spark: always summarised
    assert ctx.engine.name == "spark" and ctx.scan is not None and ctx.current.frame.empty
    assert spark.window_sample == spark.window_total == len(memory_ctx.frame)  # the sample is the whole window
    assert explain_checks(spark) == explain_checks(memory)
    assert {s for (_, s), st in explain_checks(spark).items() if st == "alert"} == {"discount_pct", "price"}
    assert "drawn by the spark engine" in spark.how[0]
