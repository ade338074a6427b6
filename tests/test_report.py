"""Tests of mlmon_nb.report: the notebook report and the index pages."""

from __future__ import annotations

import base64
import html as html_lib
import datetime as dt
import io
import re
from html.parser import HTMLParser

import nbformat
import pandas as pd
import pytest
from matplotlib.figure import Figure
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mlmon_nb import __version__
from mlmon_nb.errors import UsageError
from mlmon_nb.report import (
    export_notebook_html,
    render_archive_index,
    render_run_index,
    template_dir,
)

EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
FINGERPRINT = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the ids in the page."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    @property
    def ids(self) -> set[str]:
        return {attrs["id"] for _, attrs in self.tags if attrs.get("id")}


def _assert_offline(html: str) -> None:
    """Nothing in the page would load from the network."""
    page = _Elements(html)
    for tag, attrs in page.tags:
        for name in ("src", "href", "data", "srcset"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (tag, name, value)
        if tag == "script":
            assert "src" not in attrs
        if tag == "link":
            assert "stylesheet" not in (attrs.get("rel") or "")
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.IGNORECASE)
    assert not re.search(r"<link[^>]*rel=[\"']?stylesheet", html, re.IGNORECASE)
    assert "@import" not in html
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?\s*https?://", html, re.IGNORECASE)


def _without_data_uris(html: str) -> str:
    return re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "data:", html)


def _png() -> str:
    fig = Figure(figsize=(3, 2), dpi=60)
    ax = fig.subplots()
    ax.plot([0, 1, 2], [1, 3, 2])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _traceback() -> list[str]:
    return [
        "\x1b[0;31m" + "-" * 75 + "\x1b[0m",
        "\x1b[0;31mZeroDivisionError\x1b[0m                         Traceback (most recent call last)",
        "Cell \x1b[0;32mIn[7], line 1\x1b[0m\n\x1b[0;32m----> 1\x1b[0m failing_source_marker = 1/0\n",
        "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero",
    ]


def _notebook(png: str) -> nbformat.NotebookNode:
    frame = pd.DataFrame(
        {EVIL: [0.213, 0.05], "device": ["mobile", "tablet"], "rows": [48123, 7]},
        index=["price", "region"],
    )
    cells = [
        new_markdown_cell(
            "<span style=\"color:red\">An Exception was encountered at "
            "'<a href=\"#papermill-error-cell\">In [7]</a>'.</span>",
            metadata={"tags": ["papermill-error-cell-tag"]},
        ),
        new_code_cell("parameters_cell_marker = 1", metadata={"tags": ["parameters"]}),
        new_code_cell("injected_cell_marker = 2", metadata={"tags": ["injected-parameters"]}),
        new_markdown_cell("# Data drift\n\nThe window against the baseline."),
        new_markdown_cell("## Summary\n\nThree features drifted."),
        new_code_cell(
            "plot_source_marker()",
            execution_count=3,
            outputs=[new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})],
        ),
        new_markdown_cell("### Univariate drift"),
        new_code_cell(
            "table_source_marker",
            execution_count=4,
            outputs=[new_output("execute_result", execution_count=4,
                                data={"text/html": frame._repr_html_(), "text/plain": "frame"})],
        ),
        new_code_cell(
            "print_source_marker()",
            execution_count=5,
            outputs=[new_output("stream", name="stdout", text="stream_output_marker\n")],
        ),
        new_code_cell(
            "removed_source_marker",
            execution_count=6,
            metadata={"tags": ["remove"]},
            outputs=[new_output("stream", name="stdout", text="removed_output_marker\n")],
        ),
        new_markdown_cell("## Summary\n\nA second section with the same heading."),
        new_markdown_cell("## Drift of `price` & more"),
        new_markdown_cell(
            '<span id="papermill-error-cell" style="color:red">Execution using papermill '
            "encountered an exception here and stopped:</span>",
            metadata={"tags": ["papermill-error-cell-tag"]},
        ),
        new_code_cell(
            "failing_source_marker = 1/0",
            execution_count=7,
            outputs=[new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                traceback=_traceback())],
        ),
        new_code_cell("silent_source_marker = 1", execution_count=8),
    ]
    return new_notebook(cells=cells, metadata={"language_info": {"name": "python"}})


META = {
    "title": "Data drift",
    "notebook": "data_drift",
    "model": "ctr-ranker",
    "version": "3",
    "window": {"start": "2026-11-16T00:00:00+00:00", "end": "2026-11-23T00:00:00+00:00"},
    "run_id": "20261123T060102Z",
    "generated_at": "2026-11-23T06:01:40+00:00",
    "fingerprint": FINGERPRINT,
    "baseline_id": "b-20261001T000000Z",
    "packages": {"pandas": "3.1.1", "scikit-learn": "1.7.2"},
    "status": "alert",
    "verdict": f"3 of 12 features drifted, the most: {EVIL}.",
    "findings": ["price drifted: wasserstein 0.21 > 0.08", "<b>x</b>", "f3", "f4", "f5", "sixth_finding"],
    "missing": ["Realized performance: configure labels (path, key) in mlmon.yaml."],
    "parameters": {"model": "ctr-ranker", "category": EVIL},
}


@pytest.fixture(scope="module")
def png() -> str:
    return _png()


@pytest.fixture(scope="module")
def exported(png) -> tuple[nbformat.NotebookNode, str]:
    nb = _notebook(png)
    return nb, export_notebook_html(nb, META)


def test_template_dir_holds_the_mlmon_template():
    assert (template_dir() / "mlmon" / "conf.json").is_file()
    assert (template_dir() / "mlmon" / "index.html.j2").is_file()


def test_report_loads_nothing_from_the_network(exported):
    _, html = exported
    _assert_offline(html)
    assert "<script" not in html
    for marker in ("mathjax", "require.js", "requirejs", "widget-state", "fonts.googleapis"):
        assert marker not in html.lower()
    # lab's theme CSS is not included: only our stylesheet
    assert "--jp-layout-color0" not in html
    assert html.count("<style") <= 2  # ours, and pandas' scoped style when present


def test_report_is_small_apart_from_images(exported, png):
    _, html = exported
    assert png in html
    assert len(_without_data_uris(html).encode("utf-8")) < 150_000


def test_report_header_shows_the_run(exported):
    _, html = exported
    for expected in ("ctr-ranker", "20261123T060102Z", FINGERPRINT, "b-20261001T000000Z",
                     "2026-11-16", "2026-11-23", "2026-11-23 06:01:40 UTC", "pandas", "3.1.1",
                     "scikit-learn", "1.7.2", f"generated by mlmon-nb {__version__}"):
        assert expected in html, expected


def test_report_escapes_everything_from_meta(exported):
    _, html = exported
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html
    assert EVIL not in html
    assert EVIL_ESCAPED in html  # verdict, parameter value, and the dataframe's column name
    assert "3 of 12 features drifted" in html


def test_report_banner_has_status_verdict_and_at_most_five_findings(exported):
    _, html = exported
    assert 'class="mlmon-banner mlmon-s-alert"' in html
    banner = html[html.index('class="mlmon-banner'):html.index("</section>", html.index('class="mlmon-banner'))]
    assert banner.count("<li>") == 5
    assert "sixth_finding" not in banner
    assert "configure labels (path, key)" in html  # what the notebook could not do


def test_report_hides_code_except_the_failing_cell(exported):
    _, html = exported
    for hidden in ("plot_source_marker", "table_source_marker", "print_source_marker",
                   "silent_source_marker", "parameters_cell_marker", "injected_cell_marker",
                   "removed_source_marker", "removed_output_marker"):
        assert hidden not in html, hidden
    assert "stream_output_marker" in html
    assert "failing_source_marker" in html  # the failing cell's input shows ...
    assert "ZeroDivisionError" in html  # ... with its traceback, ANSI turned to classes
    assert "\x1b[" not in html
    assert 'class="ansi-red-fg"' in html
    assert "An Exception was encountered at" in html  # papermill's banner cells show
    assert 'id="papermill-error-cell"' in html


def test_report_table_of_contents_links_to_existing_anchors(exported):
    _, html = exported
    page = _Elements(html)
    toc = html[html.index('id="mlmon-toc"'):html.index("</nav>")]
    hrefs = re.findall(r'href="#([^"]+)"', toc)
    assert len(hrefs) == 4  # two "Summary" (h2), "Univariate drift" (h3), "Drift of price & more"
    assert len(set(hrefs)) == len(hrefs)
    for href in hrefs:
        assert html_lib.unescape(href) in page.ids, href
    assert "Data drift" not in toc  # h1 is not listed


def test_report_right_aligns_numeric_dataframe_columns(exported):
    _, html = exported
    assert '<td class="num">48123</td>' in html
    assert '<td class="mlmon-text">mobile</td>' in html


def test_report_stores_meta_in_notebook_metadata(exported):
    nb, _ = exported
    assert nb.metadata["mlmon"]["run_id"] == "20261123T060102Z"
    assert nb.metadata["mlmon"]["mlmon_nb_version"] == __version__
    nbformat.validate(nb)


@pytest.mark.parametrize("status", ["ok", "warn", "alert", "error", "info"])
def test_report_banner_colour_follows_status(status):
    nb = new_notebook(cells=[new_markdown_cell("## Only")])
    html = export_notebook_html(nb, {**META, "status": status, "findings": []})
    assert f'class="mlmon-banner mlmon-s-{status}"' in html


def test_report_with_sparse_meta_and_unknown_status():
    nb = new_notebook(cells=[new_markdown_cell("no headings here")])
    html = export_notebook_html(nb, {"status": '"><script>x</script>', "baseline_id": None})
    assert "mlmon-banner mlmon-s-info" in html
    assert "<script>x" not in html
    assert 'id="mlmon-toc"' not in html  # no headings: no empty contents box


def test_report_drops_outputs_that_load_from_the_network():
    html_output = '<div>plot</div><script src="https://cdn.example.com/plotly.js"></script>'
    nb = new_notebook(cells=[new_code_cell("x", execution_count=1, outputs=[
        new_output("display_data", data={"text/html": html_output, "text/plain": "x"}),
        new_output("display_data", data={"application/javascript": "fetch('https://x')"}),
    ])])
    html = export_notebook_html(nb, META)
    _assert_offline(html)
    assert "<div>plot</div>" in html


# --- run index ---------------------------------------------------------------

SUMMARY = {
    "schema": "mlmon.summary/1",
    "model": "ctr-ranker",
    "version": "3",
    "window": {"start": "2026-11-16T00:00:00+00:00", "end": "2026-11-23T00:00:00+00:00"},
    "run_id": "20261123T060102Z",
    "generated_at": "2026-11-23T06:01:40+00:00",
    "mlmon_nb_version": "0.1.0",
    "status": "alert",
    "data": {"reference_rows": 50000, "current_rows": 48123, "labelled_rows": 30211,
             "fingerprint": FINGERPRINT},
    "notebooks": {
        "operations": {"status": "ok", "report": "operations.html"},
        "data_drift": {"status": "alert", "report": "data_drift.html", "verdict": f"Drift in {EVIL}."},
        "concept_drift": {"status": "warn", "report": "concept_drift.html"},
    },
    "checks": [
        {"notebook": "operations", "kind": "operational", "subject": "latency_ms", "value": 41.0,
         "threshold": 120.0, "status": "ok"},
        {"notebook": "data_drift", "kind": "feature_drift", "subject": "user_tenure_days",
         "method": "wasserstein", "value": 0.01, "threshold": 0.08, "status": "ok"},
        {"notebook": "data_drift", "kind": "feature_drift", "subject": "price", "method": "wasserstein",
         "value": 0.21, "threshold": 0.08, "p_value": 1.2e-30, "status": "alert"},
        {"notebook": "concept_drift", "kind": "performance", "subject": "roc_auc", "value": 0.77,
         "threshold": 0.78, "status": "warn"},
        {"notebook": "data_drift", "kind": "feature_drift", "subject": EVIL, "method": "psi",
         "value": 0.31, "threshold": 0.2, "status": "alert"},
    ],
}


def test_run_index_escapes_and_links_relatively():
    html = render_run_index(SUMMARY)
    _assert_offline(html)
    assert EVIL not in html
    assert EVIL_ESCAPED in html
    for name in ("data_drift", "concept_drift", "operations"):
        assert f'href="{name}.html"' in html
    for expected in ("20261123T060102Z", FINGERPRINT, "2026-11-23 06:01:40 UTC", "48,123", __version__):
        assert expected in html


def test_run_index_sorts_checks_by_severity_then_notebook():
    html = render_run_index(SUMMARY)
    section = html[html.index('id="mlmon-checks"'):]
    rows = re.findall(r'<tr data-status="(\w+)" data-notebook="(\w+)"', section)
    assert [status for status, _ in rows] == ["alert", "alert", "warn", "ok", "ok"]
    assert [notebook for _, notebook in rows][3:] == ["data_drift", "operations"]
    # the checks within their thresholds are folded away under the ones that fired
    assert section.index('class="mlmon-quiet-checks"') > section.index('data-status="warn"')


def test_run_index_builds_a_verdict_from_the_checks():
    html = render_run_index(SUMMARY)
    # one problem (the covariate shift explains the performance warning), diagnosed from the checks
    assert f"ALERT: 1 problem; nothing new: covariate shift in price, {EVIL_ESCAPED} (alert)." in html
    assert 'class="mlmon-banner mlmon-s-alert"' in html


def test_run_index_prefers_the_given_verdict_and_findings():
    summary = {**SUMMARY, "verdict": "One sentence verdict.",
               "findings": ["an ok note", {"status": "alert", "text": "<i>worst</i>", "notebook": "data_drift"}]}
    html = render_run_index(summary)
    assert "One sentence verdict." in html
    assert html.index("&lt;i&gt;worst&lt;/i&gt;") < html.index("an ok note")  # worst first


def test_run_index_reports_override_links_and_must_be_relative():
    html = render_run_index(SUMMARY, reports={"data_drift": "dd report.html"})
    assert 'href="dd%20report.html"' in html
    with pytest.raises(UsageError, match="relative path"):
        render_run_index(SUMMARY, reports={"data_drift": "https://evil.example/x.html"})
    with pytest.raises(UsageError, match="relative path"):
        render_run_index(SUMMARY, reports={"data_drift": "javascript:alert(1)"})


def test_run_index_verdict_names_a_failed_notebook():
    notebooks = {**SUMMARY["notebooks"], "concept_drift": {"status": "error", "report": "concept_drift.html"}}
    html = render_run_index({**SUMMARY, "status": "error", "notebooks": notebooks})
    assert "1 notebook(s) failed (concept_drift); their reports show the failing cell." in html
    assert 'class="mlmon-banner mlmon-s-error"' in html


def test_run_index_all_ok():
    summary = {**SUMMARY, "status": "ok", "checks": [c for c in SUMMARY["checks"] if c["status"] == "ok"]}
    html = render_run_index(summary)
    assert "No check fired: all 2 checks of 3 notebook(s) are within their thresholds." in html


# --- archive index -----------------------------------------------------------


def _run(i: int, model: str = "ctr-ranker", version: str = "3", status: str = "ok") -> dict:
    start = dt.date(2026, 1, 1) + dt.timedelta(days=i)
    end = start + dt.timedelta(days=7)
    return {
        "model": model, "version": version, "status": status,
        "window": {"start": f"{start}T00:00:00+00:00", "end": f"{end}T00:00:00+00:00"},
        "run_id": f"R{i:04d}", "generated_at": f"{end}T06:01:{i % 60:02d}+00:00",
        "checks": [{"status": "alert"}, {"status": "warn"}, {"status": "warn"}, {"status": "ok"}],
        "href": f"{model}/{version}/{start}_{end}/R{i:04d}/index.html",
    }


def test_archive_index_newest_first_with_counts_and_relative_links():
    runs = [_run(3), _run(1, status="alert"), _run(2, model="churn", version="1", status="warn")]
    baselines = [{"model": "ctr-ranker", "version": "3", "baseline_id": "b-1",
                  "href": "ctr-ranker/3/baseline/baseline.html", "generated_at": "2026-01-01T00:00:00+00:00"}]
    html = render_archive_index(runs, baselines)
    _assert_offline(html)
    run_ids = re.findall(r"<code>(R\d{4})</code>", html)
    assert run_ids == ["R0003", "R0002", "R0001"]
    assert 'href="ctr-ranker/3/2026-01-04_2026-01-11/R0003/index.html"' in html
    assert "2026-01-04 → 2026-01-11" in html
    assert 'href="ctr-ranker/3/baseline/baseline.html"' in html
    assert '<b class="mlmon-n-alert">1</b> / <b class="mlmon-n-warn">2</b>' in html


def test_archive_index_filters_work_without_javascript():
    html = render_archive_index([_run(1), _run(2, model="churn", version="1", status="alert")])
    # the filter form starts hidden and only the inline script shows it; no row is hidden
    assert re.search(r'<form class="mlmon-filter" id="mlmon-filter" hidden>', html)
    assert "<tr hidden" not in html
    assert 'data-model="churn" data-version="1" data-status="alert"' in html
    assert "<option>churn</option>" in html and "<option>ctr-ranker</option>" in html


def test_archive_index_escapes_and_rejects_absolute_links():
    run = {**_run(1), "model": EVIL, "run_id": EVIL}
    html = render_archive_index([run], title="<i>t</i>")
    assert EVIL not in html and EVIL_ESCAPED in html
    assert "<i>t</i>" not in html and "&lt;i&gt;t&lt;/i&gt;" in html
    with pytest.raises(UsageError, match="relative path"):
        render_archive_index([{**_run(1), "href": "//cdn.example.com/x.html"}])
    with pytest.raises(UsageError, match="relative path"):
        render_archive_index([{**_run(1), "href": "/abs/index.html"}])


def test_archive_index_stays_small_for_500_runs():
    runs = [_run(i, model=("ctr-ranker", "churn")[i % 2], version=str(i % 3), status=("ok", "warn", "alert")[i % 3])
            for i in range(500)]
    html = render_archive_index(runs)
    assert len(re.findall(r"<tr data-model=", html)) == 500
    assert len(html.encode("utf-8")) < 250_000


def test_archive_index_empty():
    html = render_archive_index([])
    assert "No runs archived yet." in html
    assert "No baselines archived yet." in html
