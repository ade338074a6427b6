"""``mlmon compare`` and ``<run>/compare-previous.html``: two demo weeks with known differences
(the latency regression of week 4 clears, the covariate drift of week 5 appears), hand-made
summaries for the rules, escaping, the version pair and bad input."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from mlmon_nb import compare as cmp
from mlmon_nb.checks import SEVERITY
from mlmon_nb.cli import main
from mlmon_nb.diagnosis import diagnose
from mlmon_nb.errors import ArchiveError, UsageError

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FP = "sha256:" + "0" * 64


# --------------------------------------------------------------------------- two demo weeks

@pytest.fixture
def weeks(demo_archive):
    """Week 4 (latency regression) then week 5 (covariate drift starts), as a scheduler runs them."""
    before, dir_a = demo_archive.week(4)
    after, dir_b = demo_archive.week(5)
    return before, dir_a, after, dir_b


def _not_ok(summary: dict) -> dict:
    """(notebook, kind, subject, method) -> status of the checks at warn or above, read from the file."""
    checks = summary["checks"]
    keys = [(c["notebook"], c["kind"], c["subject"], c.get("method") or "") for c in checks]
    assert len(keys) == len(set(keys)), "these notebooks record each check once"
    return {k: c["status"] for k, c in zip(keys, checks) if SEVERITY[c["status"]] >= SEVERITY["warn"]}


def _rows(html: str) -> dict[str, set[tuple[str, ...]]]:
    out: dict[str, set] = {}
    for tr in BeautifulSoup(html, "html.parser").select("tr[data-change]"):
        out.setdefault(tr["data-change"], set()).add(tuple(tr["data-key"].split("|")))
    return out


def test_the_page_lists_what_appeared_and_cleared_between_two_weeks(weeks, tmp_path):
    _, dir_a, _, dir_b = weeks
    a = json.loads((dir_a / "summary.json").read_text())
    b = json.loads((dir_b / "summary.json").read_text())
    old, new = _not_ok(a), _not_ok(b)
    appeared = set(new) - set(old)   # the same notebooks ran in both: absent from `old` means ok (or not checked)
    cleared = set(old) - set(new)
    assert any(k[1] == "feature_drift" and k[2] == "price" for k in appeared), appeared  # planted: week 5 drift
    assert any(k[1] == "operational" and k[2].startswith("latency_p95") for k in cleared), cleared  # week 4 only

    page = cmp.write_compare(dir_a, dir_b, tmp_path / "c.html")
    html = page.read_text()
    rows = _rows(html)
    assert rows.get("appeared", set()) == appeared
    assert rows.get("cleared", set()) == cleared
    both = set(old) & set(new)
    assert set().union(*(rows.get(k, set()) for k in ("worsened", "improved", "unchanged"))) == both

    soup = BeautifulSoup(html, "html.parser")
    verdict = soup.select_one(".mlmon-verdict").get_text(" ", strip=True)
    assert verdict.startswith(f"{b['status'].upper()}: ")
    assert f"{len(appeared)} check{'s' if len(appeared) != 1 else ''} appeared" in verdict
    assert f"{len(cleared)} cleared" in verdict
    assert "since 2026-09-28/2026-10-05" in verdict
    assert soup.select_one(".mlmon-banner-status").get_text(strip=True) == b["status"]
    assert soup.select_one(".mlmon-bar .mlmon-badge").get_text(strip=True) == b["status"]
    assert soup.h1.get_text(strip=True) == "ctr-ranker v2: 2026-10-05/2026-10-12 against 2026-09-28/2026-10-05"
    # the first section after the header is the verdict
    sections = soup.select(".mlmon-page > section")
    assert "mlmon-banner" in sections[1]["class"]
    # links to both runs' pages resolve
    links = {a["href"] for a in soup.select(".mlmon-cmp-runs a")}
    assert {(tmp_path / h).resolve() for h in links} == {(dir_a / "index.html").resolve(),
                                                          (dir_b / "index.html").resolve()}


def test_the_window_page_links_the_previous_window_and_the_comparison(weeks):
    _, dir_a, after, dir_b = weeks
    index = BeautifulSoup((dir_b / "index.html").read_text(), "html.parser")
    hrefs = [a["href"] for a in index.select(".mlmon-previous a")]
    assert "compare-previous.html" in hrefs
    prev = next(h for h in hrefs if h.endswith("index.html"))
    assert (dir_b / prev).resolve() == (dir_a / "index.html").resolve()
    page = dir_b / cmp.PREVIOUS_PAGE
    html = page.read_text()
    back = BeautifulSoup(html, "html.parser")
    assert {(dir_b / a["href"]).resolve() for a in back.select(".mlmon-cmp-runs a")} == {
        (dir_a / "index.html").resolve(), (dir_b / "index.html").resolve()}
    # the same comparison as `mlmon compare` makes of the two folders
    before = json.loads((dir_a / "summary.json").read_text())
    assert _rows(html) == _rows(cmp.render(cmp.compare(before, after), "a", "b"))
    sentence = index.select_one(".mlmon-previous").get_text(" ", strip=True)
    assert cmp.compare(before, after).sentence()[:-1] in sentence


def test_the_first_window_has_no_comparison(tmp_path):
    run = _put(tmp_path, _summary())
    assert cmp.write_previous(tmp_path, run, json.loads((run / "summary.json").read_text()), run) is None
    assert not (run / cmp.PREVIOUS_PAGE).exists()


def test_a_failing_comparison_never_fails_the_run(tmp_path, monkeypatch, caplog):
    _put(tmp_path, _summary())
    later = _summary(run_id="20261123T060000Z", start="2026-11-16", end="2026-11-23")
    staging = tmp_path / "staging"
    staging.mkdir()

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(cmp, "render", broken)
    assert cmp.write_previous(tmp_path, staging, later, tmp_path / "m/1/2026-11-16_2026-11-23/x") is None
    assert list(staging.iterdir()) == []
    assert "compare-previous.html not written" in caplog.text


# --------------------------------------------------------------------------- hand-made summaries

def _check(subject, status, value=None, threshold=None, notebook="data_drift", kind="feature_drift",
           method="ks", **extra):
    c = {"notebook": notebook, "kind": kind, "subject": subject, "status": status, "method": method}
    if value is not None:
        c["value"] = value
    if threshold is not None:
        c["threshold"] = threshold
    return {**c, **extra}


def _summary(run_id="20261116T060000Z", start="2026-11-09", end="2026-11-16", checks=None, version="1",
             model="m", notebooks=("data_drift", "operations")):
    checks = checks if checks is not None else [_check("price", "alert", 0.3, 0.1), _check("device", "ok", 0.01, 0.1)]
    status = "ok"
    for c in checks:
        status = c["status"] if SEVERITY[c["status"]] > SEVERITY[status] else status
    return {
        "schema": "mlmon.summary/2", "model": model, "version": version,
        "window": {"start": f"{start}T00:00:00+00:00", "end": f"{end}T00:00:00+00:00"},
        "run_id": run_id, "generated_at": f"{end}T06:00:00+00:00", "mlmon_nb_version": "0.1.0",
        "status": status, "verdict": "words",
        "data": {"reference_rows": 10, "current_rows": 10, "labelled_rows": 0, "fingerprint": FP},
        "notebooks": {n: {"status": "ok", "report": f"{n}.html"} for n in notebooks},
        "causes": [c.to_dict() for c in diagnose(checks)], "incidents": [], "checks": checks,
    }


def _put(root: Path, s: dict | str, folder: str | None = None) -> Path:
    if folder is None:
        folder = f"{s['model']}/{s['version']}/{s['window']['start'][:10]}_{s['window']['end'][:10]}/{s['run_id']}"
    run = root / folder
    run.mkdir(parents=True)
    (run / "summary.json").write_text(s if isinstance(s, str) else json.dumps(s))
    (run / "index.html").write_text("<html></html>")
    return run


def test_status_and_figures_decide_the_kind_of_change():
    before = _summary(checks=[
        _check("a", "warn", 0.07, 0.1, warn_threshold=0.05),     # -> alert: worsened by status
        _check("b", "alert", 0.20, 0.1, warn_threshold=0.05),    # same status, +0.05 (100% of the scale): worsened
        _check("c", "alert", 0.20, 0.1, warn_threshold=0.05),    # same status, +0.001: unchanged
        _check("d", "alert", 0.30, 0.1, warn_threshold=0.05),    # -> warn: improved
        _check("e", "ok", 0.01, 0.1),                            # -> alert: appeared
        _check("f", "warn", 0.06, 0.1),                          # -> ok: cleared
        _check("g", "warn", 0.06, 0.1),                          # gone from a notebook that ran: cleared
        _check("roc_auc", "alert", 0.60, 0.70, kind="performance", method="band", notebook="operations"),
        _check("x", "alert", 0.5, 0.1, notebook="explainability"),  # notebook not run later: apart
    ], notebooks=("data_drift", "operations", "explainability"))
    after = _summary(run_id="20261123T060000Z", start="2026-11-16", end="2026-11-23", checks=[
        _check("a", "alert", 0.12, 0.1, warn_threshold=0.05),
        _check("b", "alert", 0.25, 0.1, warn_threshold=0.05),
        _check("c", "alert", 0.201, 0.1, warn_threshold=0.05),
        _check("d", "warn", 0.07, 0.1, warn_threshold=0.05),
        _check("e", "alert", 0.4, 0.1),
        _check("f", "ok", 0.01, 0.1),
        _check("roc_auc", "alert", 0.50, 0.70, kind="performance", method="band", notebook="operations"),
    ])
    result = cmp.compare(before, after)
    kinds = {c.key[2]: c.change for c in result.changes}
    assert kinds == {"a": "worsened", "b": "worsened", "c": "unchanged", "d": "improved", "e": "appeared",
                     "f": "cleared", "g": "cleared", "roc_auc": "worsened"}  # lower roc_auc is worse
    assert [c.key[2] for c in result.apart] == ["x"]
    assert result.not_compared == (("explainability", "ran in the earlier run, not run in the later one"),)
    # worst first: the worse status of the two, the later status, then how far it moved
    order = [c.key[2] for c in result.changes]
    assert order.index("e") < order.index("a")  # both end at alert; e moved further
    assert order.index("roc_auc") < order.index("c")  # alert in both: the one that moved most first
    assert result.verdict() == ("ALERT: 1 check appeared, 2 cleared, 3 worsened, 1 improved since "
                                "2026-11-09/2026-11-16; 1 more not ok in both; not compared: explainability "
                                "(ran in the earlier run, not run in the later one).")
    same = cmp.compare(after, after)
    assert same.sentence() == ("nothing changed since run 20261123T060000Z: the same 6 checks are not ok in both.")


def test_two_versions_on_one_window_are_titled_so(tmp_path):
    champion = _put(tmp_path, _summary(version="2"))
    challenger_summary = _summary(version="3", checks=[_check("price", "ok", 0.01, 0.1),
                                                        _check("device", "warn", 0.07, 0.1)])
    challenger = _put(tmp_path, challenger_summary)
    html = cmp.write_compare(champion, challenger, tmp_path / "v.html").read_text()
    soup = BeautifulSoup(html, "html.parser")
    assert soup.h1.get_text(strip=True) == "m: version 3 against version 2 on 2026-11-09/2026-11-16"
    assert soup.select_one(".mlmon-verdict").get_text(strip=True) == (
        "WARN: 1 check appeared, 1 cleared in version 3 against version 2.")
    assert [th.get_text(strip=True) for th in soup.select("#mlmon-table-appeared .mlmon-cmp-group")] == [
        "version 2", "version 3"]
    mixed = _put(tmp_path, _summary(version="3", run_id="20261123T060000Z", start="2026-11-16", end="2026-11-23"))
    assert cmp.compare(*cmp.load_pair(champion, mixed)).title() == (
        "m: version 3 on 2026-11-16/2026-11-23 against version 2 on 2026-11-09/2026-11-16")


def test_every_value_from_a_summary_is_escaped(weeks, tmp_path):
    """A hand-made copy of week 5's summary with markup in a subject, a verdict and a cause."""
    _, dir_a, after, _ = weeks
    evil = copy.deepcopy(after)
    evil["checks"].append(_check("<script>alert(1)</script>", "alert", 0.5, 0.1))
    evil["notebooks"]["data_drift"]["verdict"] = "<img src=x onerror=alert(2)>"
    evil["causes"].append({"cause": "data_quality", "status": "alert", "subjects": ["<b>x</b>"],
                           "summary": "<script>alert(3)</script>"})
    evil["run_id"] = "20300101T000000Z"
    folder = _put(tmp_path, evil)
    html = cmp.write_compare(dir_a, folder, tmp_path / "e.html").read_text()
    assert "<script>alert(" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    appeared = _rows(html)["appeared"]
    assert ("data_drift", "feature_drift", "<script>alert(1)</script>", "ks") in appeared


# --------------------------------------------------------------------------- the command

def _mlmon(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mlmon_nb.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


@pytest.fixture
def bad_inputs(tmp_path):
    good = _put(tmp_path, _summary())
    other = _put(tmp_path, _summary(model="other", run_id="20261123T060000Z"))
    damaged = _summary(run_id="20261117T000000Z")
    damaged["checks"] = None
    broken = _put(tmp_path, damaged)
    empty = tmp_path / "empty"
    empty.mkdir()
    return good, {"not a run folder": (good, empty, "not a run folder"),
                  "missing": (tmp_path / "nope", good, "not found"),
                  "damaged summary": (good, broken, "checks:"),
                  "same folder twice": (good, good.parent / ".." / good.parent.name / good.name, "the same run folder"),
                  "different models": (good, other, "model 'other'")}


@pytest.mark.parametrize("case", ["not a run folder", "missing", "damaged summary", "same folder twice",
                                  "different models"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(bad_inputs, case, tmp_path):
    _, cases = bad_inputs
    a, b, said = cases[case]
    out = tmp_path / "out"
    out.mkdir()
    proc = _mlmon("compare", a, b, "-o", out / "c.html", cwd=out)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlmon: error: ") and said in lines[0], lines
    named = b if case in ("not a run folder", "damaged summary", "same folder twice", "different models") else a
    assert str(named) in lines[0]
    assert list(out.iterdir()) == []


def test_the_error_path_imports_no_pandas_or_matplotlib(bad_inputs, tmp_path):
    _, cases = bad_inputs
    a, b, _ = cases["damaged summary"]
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('HEAVY', [m for m in ('pandas', 'matplotlib', 'numpy', 'jinja2')"
            " if m in sys.modules], file=sys.stderr))\n"
            "from mlmon_nb.cli import entry\n"
            f"sys.argv = ['mlmon', 'compare', {str(a)!r}, {str(b)!r}]\n"
            "entry()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "HEAVY []" in proc.stderr, proc.stderr


def test_the_command_prints_the_page_and_never_overwrites_another_file(bad_inputs, tmp_path, monkeypatch):
    good, _ = bad_inputs
    later = _put(tmp_path, _summary(run_id="20261123T060000Z", start="2026-11-16", end="2026-11-23",
                                    checks=[_check("price", "ok", 0.01, 0.1)]))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["compare", str(good), str(later)])
    assert result.exit_code == 0, result.output
    page = Path(result.output.strip())
    assert page == tmp_path / "compare_m_v1_2026-11-09_vs_v1_2026-11-16.html" and page.is_file()
    assert "OK: 1 check cleared since 2026-11-09/2026-11-16." in page.read_text()
    again = CliRunner().invoke(main, ["compare", str(good), str(later)])  # our own page: replaced
    assert again.exit_code == 0 and Path(again.output.strip()) == page
    mine = tmp_path / "notes.html"
    mine.write_text("my notes")
    with pytest.raises(UsageError, match="not a page written by mlmon compare"):
        cmp.write_compare(good, later, mine)
    assert mine.read_text() == "my notes"
    with pytest.raises(ArchiveError):
        cmp.load_pair(good, tmp_path)


# --------------------------------------------------------------------------- in a browser

@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
def test_the_page_reads_well_in_chromium(weeks, tmp_path):
    from playwright.sync_api import sync_playwright

    _, dir_a, after, _ = weeks
    long = copy.deepcopy(after)  # a long subject without spaces must wrap, not widen the page
    long["checks"].append(_check("feature_" + "x" * 150, "alert", 0.5, 0.1))
    long["run_id"] = "20300101T000001Z"
    page = cmp.write_compare(dir_a, _put(tmp_path, long), tmp_path / "c.html")
    shots = Path(os.environ["MLMON_SCREENSHOTS"]) if os.environ.get("MLMON_SCREENSHOTS") else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for width in (1200, 900):
                tab = browser.new_page(viewport={"width": width, "height": 900})
                errors, requests = [], []
                tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                tab.on("pageerror", lambda e: errors.append(str(e)))
                tab.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:"))
                       else None)
                tab.goto(page.as_uri(), wait_until="load")
                assert errors == [] and requests == []
                overflow = tab.evaluate("""() => [document.documentElement.scrollWidth - document.documentElement.clientWidth,
                    ...Array.from(document.querySelectorAll('.mlmon-table-wrap'), e => e.scrollWidth - e.clientWidth)]""")
                assert max(overflow) <= 1, (width, overflow)
                first = tab.evaluate("() => document.querySelector('.mlmon-banner').getBoundingClientRect().top")
                assert first < 900, "the verdict is on the first screen"
                tab.screenshot(path=str(shots / f"compare_{width}.png"), full_page=True)
                tab.close()
        finally:
            browser.close()


def test_a_bundle_carries_the_comparison_and_no_link_out_of_itself(weeks, tmp_path):
    """``mlmon bundle`` of a window run: the comparison with the previous run is a section of the
    file, its link points there, and links to archive pages the file does not hold become text."""
    from mlmon_nb.bundle import write_bundle

    _, _, _, dir_b = weeks
    out = write_bundle(dir_b, tmp_path / "bundle.html")
    soup = BeautifulSoup(out.read_text(), "html.parser")
    assert soup.find(id="nb-compare-previous") is not None
    hrefs = [a["href"] for a in soup.find_all("a", href=True)]
    assert "#nb-compare-previous" in hrefs
    assert [h for h in hrefs if not h.startswith(("#", "http://", "https://", "mailto:"))] == []
    ids = [el["id"] for el in soup.find_all(id=True)]
    assert len(ids) == len(set(ids))
