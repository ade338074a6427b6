"""End to end: `mlmon demo` at small scale, self-contained reports, escaping, packaging."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from mlmon_nb.checks import validate_summary

from conftest import make_frame, write_project

ROOT = Path(__file__).resolve().parent.parent
MLMON = str(Path(sys.executable).parent / "mlmon")
HEADER_FIELDS = ("Model", "Version", "Window", "Run id", "Data fingerprint", "Packages", "Generated at")


def assert_self_contained(html: str, where: str) -> None:
    """Nothing loaded from the network: no http(s) in src/href, no external scripts or styles."""
    for attr, url in re.findall(r'\b(src|href)\s*=\s*["\']([^"\']*)["\']', html):
        assert not re.match(r"(?i)\s*(https?:)?//", url), f"{where}: {attr}={url}"
    assert not re.search(r"<script[^>]+src=", html), where
    assert not re.search(r"<link[^>]+stylesheet[^>]+href=", html), where
    assert "@import" not in html, where


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "demo"
    proc = subprocess.run([MLMON, "demo", "--out", str(out), "--scale", "0.15", "--weeks", "5",
                           "-n", "data_drift"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_demo_prints_the_index_and_archives_every_week(demo_run):
    out, proc = demo_run
    index = Path(proc.stdout.strip().splitlines()[-1])
    assert index == out / "reports" / "index.html" and index.is_file()
    summaries = sorted((out / "reports").glob("ctr-ranker/2/*/*/summary.json"))
    assert len(summaries) == 5
    truth = json.loads((out / "ground_truth.json").read_text())
    for path in summaries:
        summary = json.loads(path.read_text())
        validate_summary(summary, str(path))
        assert summary["data"]["current_rows"] > 0
        assert summary["data"]["fingerprint"].startswith("sha256:")
        assert summary["baseline_id"]
        drifted = {c["subject"] for c in summary["checks"] if c["kind"] == "feature_drift" and c["status"] == "alert"}
        week_start = summary["window"]["start"][:10]
        if week_start >= "2026-10-05":
            assert drifted == set(truth["drifted_features"]), (week_start, drifted)
        else:
            assert drifted == set(), (week_start, drifted)
        monitored = {c["subject"] for c in summary["checks"] if c["kind"] == "feature_drift"}
        assert monitored == set(truth["features"]["numeric"]) | set(truth["features"]["categorical"])


def test_every_report_is_self_contained_with_its_header(demo_run):
    out, _ = demo_run
    pages = list((out / "reports").rglob("*.html"))
    assert len(pages) >= 1 + 1 + 5 * 2  # archive index, baseline, per week: index + data_drift
    for page in pages:
        html = page.read_text()
        assert_self_contained(html, str(page))
    for page in (out / "reports").glob("ctr-ranker/2/*/*/data_drift.html"):
        html = page.read_text()
        for field in HEADER_FIELDS:
            assert field in html, (page, field)
        assert "mlmon-verdict" in html
        assert "data:image/png;base64," in html


def test_run_folder_holds_html_and_ipynb_per_notebook(demo_run):
    out, _ = demo_run
    for run in (out / "reports").glob("ctr-ranker/2/*_*/*/"):
        assert (run / "data_drift.html").is_file() and (run / "data_drift.ipynb").is_file()
        assert (run / "index.html").is_file() and (run / "summary.json").is_file()


def test_column_names_and_values_are_escaped(tmp_path):
    """Column names and category values containing HTML are valid input, escaped in every report."""
    from mlmon_nb.runner import execute_baseline, execute_plan, prepare_baseline, prepare_window_run

    rng = np.random.default_rng(5)
    evil_col = "<img src=x onerror=alert(1)>"
    evil_val = "<script>alert('v')</script>"
    (tmp_path / "data").mkdir()
    for name, start, n in (("reference", "2026-09-01", 6000), ("logs", "2026-10-05", 2000)):
        df = make_frame(n, start, rng).rename(columns={"region": evil_col})
        if name == "logs":
            df[evil_col] = np.where(rng.random(n) < 0.5, evil_val, df[evil_col])
        df.to_parquet(tmp_path / f"data/{name}.parquet")
    path = write_project(tmp_path, logs="data/logs.parquet", model_extra={
        "features": {"numeric": ["price", "user_tenure_days"], "categorical": ["device", evil_col]}})
    assert execute_baseline(prepare_baseline(path, "m", "1")).exit_code == 0
    outcome = execute_plan(prepare_window_run(path, "m", "1", "2026-10-05/2026-10-20", ["data_drift"]),
                           fail_on="never")
    assert outcome.summary["status"] != "error"
    assert any(c["subject"] == evil_col and c["status"] == "alert" for c in outcome.summary["checks"])
    pages = list((tmp_path / "reports").rglob("*.html"))
    assert len(pages) >= 4
    for page in pages:
        html = page.read_text()
        assert "<img src=x" not in html, page
        assert "<script>alert(" not in html, page
    drift_html = (outcome.run_dir / "data_drift.html").read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in drift_html


def test_committed_notebooks_have_no_outputs():
    books = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert {"baseline", "data_drift"} <= {b.stem for b in books}
    for book in books:
        nb = nbformat.read(str(book), as_version=4)
        nbformat.validate(nb)
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, book
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{book.name}: cell {cell.id} has outputs"


def test_installed_wheel_ships_notebooks_templates_and_schema(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("mlmon_nb-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for book in (ROOT / "notebooks").glob("*.ipynb"):
        assert f"mlmon_nb/notebooks/{book.name}" in names
    assert "mlmon_nb/templates/mlmon/conf.json" in names
    assert "mlmon_nb/templates/mlmon/static/report.css" in names
    assert "mlmon_nb/schemas/summary.schema.json" in names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    # every module of every subpackage (an area package missing from pyproject's list would break installs)
    for src in (ROOT / "mlmon_nb").rglob("*.py"):
        assert src.relative_to(ROOT).as_posix() in names, src
