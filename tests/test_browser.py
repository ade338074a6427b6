"""Every kind of report opened in headless Chromium: no console errors, no network requests,
headings and verdict present, renders in < 2 s; screenshots saved. Plus report size limits."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmon_nb.bundle import write_bundle
from mlmon_nb.resources import default_window_notebooks

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason="Debian's chromium is not installed (./dev.sh test installs it with apt-get when run as root)")
SCREENSHOTS = Path(os.environ.get("MLMON_SCREENSHOTS", "")) if os.environ.get("MLMON_SCREENSHOTS") else None


@pytest.fixture(scope="module")
def pages(demo_archive, tmp_path_factory):
    """One of each kind of page: archive index, run index, baseline, every notebook, bundle."""
    summary, run_dir = demo_archive.week(8)
    assert list(summary["notebooks"]) == list(default_window_notebooks())
    archive = demo_archive.archive
    baseline = next(archive.glob("ctr-ranker/2/baseline/*/baseline.html"))
    bundle = write_bundle(run_dir, tmp_path_factory.mktemp("bundle") / "bundle.html")
    found = {"archive index": archive / "index.html", "run index": run_dir / "index.html",
             "baseline": baseline, "bundle": bundle}
    for name in summary["notebooks"]:
        found[name] = run_dir / f"{name}.html"
    return found, summary


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def test_every_report_renders_offline_without_errors(pages, browser, tmp_path):
    found, summary = pages
    assert summary["status"] != "error", summary["notebooks"]
    shots = SCREENSHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    for kind, path in found.items():
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors, requests = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        t0 = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load")
        seconds = time.perf_counter() - t0
        assert errors == [], (kind, errors)
        assert requests == [], (kind, requests)
        assert seconds < 2.0, (kind, seconds)
        assert page.locator("h1").count() >= 1, kind
        if kind != "archive index":
            verdict = page.locator(".mlmon-verdict").first.inner_text().strip()
            assert len(verdict) > 10 and verdict != "—", (kind, verdict)
        page.screenshot(path=str(shots / f"{kind.replace(' ', '_')}.png"), full_page=False)
        page.close()


WINDOW_PAGE_MAX_HEIGHT = 6000
"""A run's page at 1280 px wide fits in a few screens (it was 20-23k px with raw per-chunk data)."""
MAX_BLANK = 900
"""The tallest stretch of a page without text or image (one screen): no empty rows, no blank frames."""

_BLANK_STRETCH = """() => {
  // the tallest vertical stretch without visible text or image; text scrolled out of sight inside a
  // scroller (a table column running off to the right) does not count as visible
  const clips = new Map();
  const clipOf = (el) => {
    if (!el) return [0, document.documentElement.clientWidth];
    if (clips.has(el)) return clips.get(el);
    let [left, right] = clipOf(el.parentElement);
    if (getComputedStyle(el).overflowX !== 'visible') {
      const r = el.getBoundingClientRect();
      left = Math.max(left, r.left); right = Math.min(right, r.right);
    }
    clips.set(el, [left, right]);
    return [left, right];
  };
  const spans = [];
  const add = (r, el) => {
    const [left, right] = clipOf(el);
    if (r.height > 0 && r.right > left && r.left < right) spans.push([r.top + scrollY, r.bottom + scrollY]);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) add(r, node.parentElement);
  }
  for (const el of document.querySelectorAll('img, svg, canvas')) add(el.getBoundingClientRect(), el);
  spans.sort((a, b) => a[0] - b[0]);
  let gap = 0, reach = spans.length ? spans[0][0] : 0;
  for (const [top, bottom] of spans) { gap = Math.max(gap, top - reach); reach = Math.max(reach, bottom); }
  return Math.max(gap, document.documentElement.scrollHeight - reach);
}"""

_CUT_OFF = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output, .mlmon-table-wrap'))
  .filter(el => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
  .map(el => (el.innerText || '').slice(0, 80))"""


def test_pages_fit_the_screen_without_raw_data_or_blank_stretches(pages, browser, tmp_path):
    """At 1280 px: nothing wider than the window (and no table cut off inside a scroller), no raw
    dict text, no stretch of a screen without content, the run's page within a few screens."""
    found, _ = pages
    shots = SCREENSHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    heights = {}
    for kind, path in found.items():
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri(), wait_until="load")
        scroll, client, height = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth,"
            " document.documentElement.scrollHeight]")
        heights[kind] = height
        assert errors == [], (kind, errors)
        assert scroll <= client + 1, (kind, scroll, client)
        assert page.evaluate(_CUT_OFF) == [], kind
        text = page.evaluate("document.body.innerText")
        assert "{'" not in text and "[{" not in text, (kind, text[text.find("{'") - 80:text.find("{'") + 80])
        assert page.evaluate(_BLANK_STRETCH) < MAX_BLANK, kind
        page.screenshot(path=str(shots / f"1280-{kind.replace(' ', '_')}.png"), full_page=True)
        page.close()
    assert heights["run index"] <= WINDOW_PAGE_MAX_HEIGHT, heights


def test_data_drift_report_for_30_features_stays_small(tmp_path):
    from conftest import write_project
    from mlmon_nb.runner import execute_baseline, execute_plan, prepare_baseline, prepare_window_run

    rng = np.random.default_rng(3)
    num = [f"x{j}" for j in range(24)]
    cat = [f"c{j}" for j in range(6)]

    def frame(n, start, shift):
        df = pd.DataFrame({c: rng.normal(shift if j < 5 else 0, 1, n) for j, c in enumerate(num)})
        for c in cat:
            df[c] = rng.choice(["a", "b", "c", "d"], n)
        df["ts"] = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.arange(n), unit="min")
        df["score"] = rng.random(n)
        df["clicked"] = rng.integers(0, 2, n)
        return df

    (tmp_path / "data").mkdir()
    frame(8000, "2026-09-01", 0).to_parquet(tmp_path / "data/reference.parquet")
    frame(8000, "2026-10-05", 0.5).to_parquet(tmp_path / "data/logs.parquet")
    path = write_project(tmp_path, logs="data/logs.parquet", model_extra={
        "features": {"numeric": num, "categorical": cat}})
    assert execute_baseline(prepare_baseline(path, "m", "1")).exit_code == 0
    outcome = execute_plan(prepare_window_run(path, "m", "1", "2026-10-05/2026-10-12", ["data_drift"]),
                           fail_on="never")
    size = (outcome.run_dir / "data_drift.html").stat().st_size
    assert size <= 2 * 2**20, size


def test_incident_pages_and_index_render_without_overflow_or_errors(browser, tmp_path):
    """The archive index (open incidents, causes by window) and an incident page, built from
    synthetic run folders: no console error, no network request, nothing wider than the window."""
    import datetime as dt

    from mlmon_nb import archive
    from mlmon_nb.incidents import Policy
    from test_incident_pages import EVIL, MONDAY, feature, ops, write_run

    root = tmp_path / "reports"
    since = (MONDAY + dt.timedelta(days=9)).isoformat()
    for week in range(1, 9):
        drift = [feature("price", "alert", since), feature(EVIL * 3, "alert", since)] if week >= 2 else []
        write_run(root, week, [feature("price", "ok"), ops("alert" if week in (3, 4) else "ok"), *drift])
    write_run(root, 8, [ops()], notebooks=("operations",), made_hours=30)
    _, history = archive.update(root, Policy())
    pages = [root / "index.html", *sorted((root / "incidents").glob("*.html"))]
    assert len(pages) == 1 + len(history.incidents) >= 3
    shots = SCREENSHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    for path in pages:
        for width in (1200, 420):
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors, requests = [], []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
            page.goto(path.as_uri(), wait_until="load")
            assert errors == [] and requests == [], (path.name, errors, requests)
            scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert scroll <= client, (path.name, width, scroll, client)
            assert page.locator("h1").count() == 1
            if path.parent.name == "incidents":
                assert len(page.locator(".mlmon-verdict").inner_text().strip()) > 20
            else:
                assert page.locator("#mlmon-incidents tbody tr").count() >= 1
                assert page.locator("table.mlmon-grid td").count() >= 8
            page.screenshot(path=str(shots / f"incident-{path.stem}-{width}.png"), full_page=True)
            page.close()
