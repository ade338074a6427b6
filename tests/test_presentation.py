"""How the reports read ("The analyst's day", items 6, 8, 9): one test per presentation fault, so
it stays fixed. Unit-level where the fault lives in one function; one demo run (three notebooks
of the session demo's preference-flip week) for what only a report shows."""

from __future__ import annotations

import html
import json
import os
import re
import stat
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

# runner.execute_baseline starts report.warm_up (which imports nbconvert, hence jupyter_client) on a
# thread and calls kernels.ensure_kernel (which imports jupyter_client) at once: in a process that has
# not imported jupyter_client yet the two imports can meet and fail ("partially initialized module
# 'jupyter_client.manager'"). Importing it here keeps this file's demo runs clear of that race (reported).
import jupyter_client  # noqa: E402,F401

from mlmon_nb import display  # noqa: E402
from mlmon_nb.check_view import check_tables, detail_text, findings_from_checks, figure, p_text  # noqa: E402
from mlmon_nb.checks import run_verdict  # noqa: E402
from mlmon_nb.diagnosis import Cause, diagnose  # noqa: E402
from mlmon_nb.report import render_run_index  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _overlaps(boxes) -> bool:
    boxes = sorted(boxes, key=lambda b: b.x0)
    return any(a.x1 > b.x0 for a, b in zip(boxes, boxes[1:]))


def _visible_tick_boxes(ax, renderer):
    lo, hi = sorted(ax.get_xlim())
    return [label.get_window_extent(renderer) for label, at in zip(ax.xaxis.get_ticklabels(), ax.get_xticks())
            if label.get_text() and lo <= at <= hi]


# --------------------------------------------------------------------------- figures


@pytest.mark.parametrize("lo, hi", [(100_000, 250_000), (20_000, 90_000), (1e6, 3e9), (1e-5, 9e-5), (-5, 5),
                                    (-250_000, -100_000), (0, 1)])
def test_ecdf_and_histogram_tick_labels_never_collide(lo, hi):
    from mlmon_nb.plots.drift import overlay_numeric

    rng = np.random.default_rng(1)
    reference = np.sort(rng.uniform(lo, hi, 4000))
    fig = overlay_numeric(types.SimpleNamespace(sorted=reference, n=len(reference)), rng.uniform(lo, hi, 3000),
                          "amount")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        boxes = _visible_tick_boxes(ax, renderer)
        assert len(boxes) >= 2, (ax.get_title(), lo, hi)
        assert not _overlaps(boxes), (ax.get_title(), [t.get_text() for t in ax.xaxis.get_ticklabels()])
        assert ax.xaxis.get_offset_text().get_text() == ""  # every label in the data's own units, no corner factor


def _chunks(metric="roc_auc"):
    start = pd.Timestamp("2026-10-26", tz="UTC")
    starts = [start + pd.Timedelta(days=d) for d in range(7)]
    realized = np.array([0.74, 0.745, 0.63, 0.62, 0.61, 0.605, 0.607])
    frame = pd.DataFrame({
        "start": starts, "end": [s + pd.Timedelta(days=1) for s in starts],
        "band_low": 0.66, "band_high": 0.81, "est_band_low": np.nan, "est_band_high": np.nan, "band_mean": 0.73,
        "estimated": 0.75, "enough_labels": [True] * 6 + [False], "realized": realized,
        "ci_low": realized - 0.04, "ci_high": realized + 0.04})
    return types.SimpleNamespace(chunks=lambda m: frame, unit="day")


def _legend_boxes(fig):
    return [legend.get_window_extent(fig.canvas.get_renderer()) for legend in
            [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]]


def test_performance_timeline_legend_sits_outside_the_data_and_the_title_names_the_metric():
    from mlmon_nb.plots.concept import performance_timeline

    fig = performance_timeline(_chunks(), "roc_auc", label="ROC AUC")
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_title().startswith("ROC AUC per day")  # not the last series' label
    assert ax.get_ylabel().startswith("ROC AUC")
    boxes = _legend_boxes(fig)
    assert boxes and not any(box.overlaps(ax.bbox) for box in boxes)


def test_dependence_legend_outside_and_its_table_names_levels_and_ranges():
    from mlmon_nb.explain.dependence import Dependence

    rng = np.random.default_rng(2)
    device = Dependence("device", "categorical", pd.Series(rng.choice(["mobile", "desktop", "tablet"], 300)),
                        rng.normal(0, 0.1, 300), pd.Series(rng.choice(["mobile", "desktop"], 200)),
                        rng.normal(0, 0.1, 200))
    table = device.to_df()
    assert table.columns[0] == "device level" and "region" not in table.columns
    assert set(table["device level"]) == {"mobile", "desktop", "tablet"}
    price = Dependence("price", "numeric", pd.Series(rng.lognormal(3.5, 0.4, 300)), rng.normal(0, 0.1, 300),
                       pd.Series(rng.lognormal(3.9, 0.4, 200)), rng.normal(0, 0.1, 200))
    assert price.to_df().columns[0] == "price range"
    for dep in (device, price):
        fig = dep.plot()
        fig.canvas.draw()
        assert not any(box.overlaps(fig.axes[0].bbox) for box in _legend_boxes(fig))
        assert not _overlaps(_visible_tick_boxes(fig.axes[0], fig.canvas.get_renderer()))


def test_change_point_table_puts_the_status_first_in_short_columns():
    from mlmon_nb.concept.tables import changes_table

    at = pd.Timestamp("2026-10-28 11:31", tz="UTC")
    detections = pd.DataFrame({
        "method": ["EDDM", "ADWIN", "DDM"], "at": [at + pd.Timedelta(days=2), at, at],
        "detected_at": [at + pd.Timedelta(days=3), at + pd.Timedelta(hours=25), at + pd.Timedelta(hours=33)],
        "delay_hours": [44.23, 25.02, 33.1], "consensus": [False, True, True], "at_window_start": False,
        "status": ["ok", "alert", "alert"]})
    table = changes_table(types.SimpleNamespace(detections=detections))
    assert list(table.columns)[:2] == ["status", "detector"]
    assert list(table["status"]) == ["alert", "alert", "ok"]
    assert "onset = window start" not in table.columns  # no detection starts at the window's start
    assert max(len(c) for c in table.columns) <= 24
    assert table["onset (UTC)"].iloc[0] == "Wed 28 Oct 11:31"


# --------------------------------------------------------------------------- words and figures on pages


def test_say_formats_values_with_their_format_spec_then_escapes_them(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj.data))
    display.say("{:.1%} of <b>{}</b> rows, {:,} labelled", 0.1234, "<price>", 19555)
    assert shown == ["<p>12.3% of <b>&lt;price&gt;</b> rows, 19,555 labelled</p>"]
    assert display.fill("{}", "a & b") == "a &amp; b"
    assert display.fill("{!r}", "<x>") == "&#x27;&lt;x&gt;&#x27;"
    assert display.fill("no fields <b>") == "no fields &lt;b&gt;"


CHUNKS = [{"start": f"2026-10-{26 + i}T00:00:00+00:00", "rows": 2691, "labelled": 2641, "realized": 0.7}
          for i in range(7)]
CHECKS = [
    {"notebook": "concept_drift", "kind": "performance", "subject": "roc_auc", "status": "alert", "method": "band",
     "value": 0.6452115842291202, "threshold": 0.7037544094945125, "ci_method": "DeLong", "coverage": 0.98000400922,
     "labelled_rows": 19555, "chunks": CHUNKS, "expected_range": [0.7291972986221325, 0.7697176957185083]},
    *({"notebook": "concept_drift", "kind": "change_point", "subject": "roc_auc", "status": "alert", "method": m,
       "at": "2026-10-28T11:31:51.410587+00:00", "detected_at": "2026-10-29T12:33:12.796577+00:00",
       "delay_hours": 25.022607219444442, "consensus": True} for m in ("ADWIN", "DDM", "EDDM", "HDDM_A")),
    {"notebook": "concept_drift", "kind": "concept_drift", "subject": "roc_auc", "status": "alert",
     "method": "realized_vs_expected", "value": -0.10424591294120022, "threshold": -0.034277479929225155,
     "p_value": 2.350520933385104e-25},
    {"notebook": "data_drift", "kind": "feature_drift", "subject": "price", "status": "alert", "method": "ks",
     "value": 0.1621722695010751, "threshold": 0.1, "p_value": 0.0, "since": "2026-10-26T00:00:00+00:00",
     "null_aucs": [0.5102, 0.4834, 0.4991, 0.5255, 0.51, 0.49, 0.5, 0.52]},
    {"notebook": "data_drift", "kind": "multivariate_drift", "subject": "domain_classifier", "status": "alert",
     "method": "domain_classifier", "value": 0.643, "threshold": 0.6,
     "top_features": json.dumps({"price": 0.0711, "device": 0.0683, "category": 0.0057})},
    *({"notebook": "data_drift", "kind": "feature_drift", "subject": f"x{i}", "status": "ok", "method": "ks",
       "value": 0.01 * i, "threshold": 0.1, "p_value": 0.5} for i in range(30)),
]
SUMMARY = {"schema": "mlmon.summary/2", "model": "m", "version": "1",
           "window": {"start": "2026-10-26T00:00:00+00:00", "end": "2026-11-02T00:00:00+00:00"},
           "run_id": "R1", "generated_at": "2026-11-02T06:00:00+00:00", "status": "alert",
           "notebooks": {"concept_drift": {"status": "alert", "report": "concept_drift.html"},
                         "data_drift": {"status": "alert", "report": "data_drift.html"}},
           "checks": CHECKS}


def _text(page: str) -> str:
    """The page's text, whitespace collapsed."""
    from bs4 import BeautifulSoup

    return re.sub(r"\s+", " ", BeautifulSoup(page, "html.parser").get_text(" "))


def test_checks_table_rounds_figures_explains_and_never_writes_raw_data():
    page = render_run_index(SUMMARY)
    text = _text(page)
    for raw in ("{'", '{"', "[{", "0.6452115842291202", "2.350520933385104e-25", "chunks=", "[0.729"):
        assert raw not in text and raw not in html.unescape(page), raw
    assert "0.645" in text and "0.704" in text and "< 0.0001" in text and "2026-10-28 11:31 UTC" in text
    assert "a table of 7 rows (in the concept_drift report)" in text  # per-chunk data left to the report
    assert "price 0.0711, device 0.0683, category 0.0057" in text     # a short mapping, written as words
    assert "Its distribution moved away from the baseline's." in text
    # the quiet checks and every check's other figures are folded: one click away, not on the screen
    quiet = page[page.index('class="mlmon-quiet-checks"'):]
    assert "30 checks within their thresholds" in quiet and 'data-notebook="data_drift"' in quiet
    main = page[page.index('id="mlmon-checks"'):page.index('class="mlmon-quiet-checks"')]
    assert main.count("<tr data-status=") == 8
    assert main.count("<details class=\"mlmon-check-details\">") == 7  # the concept check has no other figure


def test_check_figures_are_rounded_to_what_they_can_tell():
    assert [figure(v) for v in (0.1621722695, 19954.0, 1e-05, -0.1042459, 25.0226)] == \
        ["0.162", "19,954", "1e-05", "-0.104", "25"]
    assert (p_text(0.0), p_text(0.0123), p_text(0.77385)) == ("< 0.0001", "0.012", "0.77")
    assert detail_text({"a": {"nested": 1}}) == "1 entries (in the notebook's report)"
    assert detail_text(list(range(50)), "data_drift") == "50 values (in the data_drift report)"


def test_run_headline_names_each_subject_once():
    checks = [c for c in CHECKS if c["status"] != "ok"]
    causes = diagnose(checks)
    verdict = run_verdict("alert", {"concept_drift": "alert", "data_drift": "alert"}, checks, causes)
    assert not re.search(r"\b(\w+), \1\b", verdict), verdict
    assert verdict.count("roc_auc") == 1, verdict
    # whatever a cause lists, the sentence names a subject once (a day's check is its subject's)
    cause = Cause(cause="concept_drift", status="alert", subjects=("roc_auc", "roc_auc", "roc_auc_daily", "f1"),
                  since=None, evidence=(), explains=())
    sentence = run_verdict("alert", {"concept_drift": "alert"}, [], [cause])
    assert "in roc_auc, f1 (alert)" in sentence, sentence
    findings = findings_from_checks(checks)
    assert [f["text"] for f in findings if f["text"].startswith("change point on roc_auc")] == \
        ["change point on roc_auc; 4 checks agree"]


def test_checks_a_cause_explains_come_after_the_news():
    causes = [{"cause": "concept_drift", "status": "alert", "subjects": ["roc_auc"],
               "explains": [{"notebook": "concept_drift", "kind": "change_point", "subject": "roc_auc",
                             "method": m} for m in ("ADWIN", "DDM", "EDDM", "HDDM_A")]}]
    fired, quiet = check_tables(CHECKS, causes=causes)
    kinds = [r["kind"] for r in fired]
    assert kinds[-4:] == ["change point"] * 4 and all(r["explained"] for r in fired[-4:])
    assert "Part of the concept drift" in fired[-1]["sentence"]
    assert len(quiet) == 30


JARGON = ("SHAP", "log-odds", "Wasserstein", "attribution", "reliance", "distance")


def _explained(flagged=(), reliance=(), cohort=None, dependence=None):
    """An ExplainResult as plain.summary reads it: three features, some flagged."""
    feats = [types.SimpleNamespace(feature=f, share_window=w, share_baseline=b, reliance_baseline=1.1,
                                   reliance_window=-0.5 if f in reliance else 1.0)
             for f, w, b in (("price", 0.4, 0.35), ("discount_pct", 0.35, 0.4), ("device", 0.25, 0.25))]

    def flagged_by(status="warn", method=None):
        return list(reliance) if method == "attribution_reliance" else [*reliance, *flagged]

    drift = types.SimpleNamespace(features=feats, flagged=flagged_by, labelled_window_rows=500)
    return types.SimpleNamespace(drift=drift, dependence=dependence or {}, cohort=cohort)


def test_explainability_summary_is_three_plain_sentences():
    from mlmon_nb.explain import plain
    from mlmon_nb.explain.dependence import Dependence

    rng = np.random.default_rng(3)
    price = Dependence("price", "numeric", pd.Series(rng.lognormal(3.5, 0.3, 2000)), rng.normal(0, 0.1, 2000),
                       pd.Series(rng.lognormal(4.2, 0.3, 500)), rng.normal(0, 0.1, 500))
    segment = types.SimpleNamespace(spec=types.SimpleNamespace(label="discount_pct > 23.0", source="concept_drift"),
                                    window_total=230, window_size=1000)
    quiet = plain.summary(_explained(cohort=segment))
    flip = plain.summary(_explained(flagged=["price"], reliance=["discount_pct"], cohort=segment,
                                    dependence={"price": price}))
    shift = plain.summary(_explained(flagged=["price"], cohort=segment, dependence={"price": price}))
    for sentences in (quiet, flip, shift):
        assert len(sentences) == 3 and all(s.endswith(".") for s in sentences)
        assert not [j for j in JARGON if j in " ".join(sentences)], sentences
        assert sentences[0].startswith("Right now the model's predictions depend most on price, discount_pct")
    assert "nothing important changed" in quiet[1] and "No group" in quiet[2]  # a noisy segment is no news
    assert "discount_pct the way the model expects" in flip[1] and "other way" in flip[1]
    assert "typical value" in flip[1]  # price, in its own units
    assert flip[2] == ("Most affected: predictions where discount_pct > 23.0 (23% of this window's predictions), "
                       "the group where the model lost the most accuracy.")
    assert shift[2].startswith("Most affected: predictions where price is above")  # new territory for the model


# --------------------------------------------------------------------------- the command line and setup


def test_command_errors_name_the_command_that_was_typed(capsys):
    from mlmon_nb.cli import entry

    for args, expected in ((["bogus"], "see 'mlmon --help'"), (["run", "--bogus"], "see 'mlmon run --help'"),
                           (["index"], "see 'mlmon index --help'")):
        old = sys.argv
        sys.argv = ["mlmon", *args]
        try:
            with pytest.raises(SystemExit) as info:
                entry()
        finally:
            sys.argv = old
        err = capsys.readouterr().err
        assert info.value.code == 2 and expected in err and "mlmon main" not in err, (args, err)


def test_every_package_data_folder_is_a_listed_package():
    """setuptools warns 'Package would be ignored' for a data folder it finds but was not given."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages, dirs, data = set(config["packages"]), config["package-dir"], config["package-data"]
    for package, folder in dirs.items():
        for sub in [ROOT / folder, *(p for p in (ROOT / folder).rglob("*") if p.is_dir())]:
            if sub.name == "__pycache__" or not any(f.is_file() for f in sub.iterdir()):
                continue
            name = ".".join([package, *sub.relative_to(ROOT / folder).parts])
            assert name in packages, f"{name} ({sub.relative_to(ROOT)}) is not in [tool.setuptools] packages"
            if package != "mlmon_nb":
                shipped = [f for f in sub.iterdir() if f.is_file()
                           and any(f.match(pattern) for pattern in data.get(name, ()))]
                assert shipped, f"no package-data pattern of {name} matches a file of {sub.relative_to(ROOT)}"


FAKE_PYTHON = r"""#!/usr/bin/env bash
# Stands in for python in ./dev.sh setup: a venv, pip's usual output, nothing installed.
case "$1 $2" in
  "-m venv")
    mkdir -p .venv/bin && cp "$0" .venv/bin/python
    printf '#!/usr/bin/env bash\necho /demo/reports/index.html\n' > .venv/bin/mlmon
    chmod +x .venv/bin/python .venv/bin/mlmon ;;
  "-m pip")
    if [[ " $* " == *" -e "* ]]; then
      for p in numpy pandas scipy scikit-learn shap matplotlib duckdb pyarrow papermill nbconvert nbformat \
               jinja2 click river skops joblib pyyaml ipykernel jupyter-client tornado pyzmq traitlets \
               fastjsonschema beautifulsoup4 playwright; do
        echo "Collecting $p>=1.0 (from mlmon-nb==0.1.0)"
        echo "  Downloading $p-1.0-py3-none-any.whl.metadata (4.1 kB)"
        echo "  Downloading $p-1.0-py3-none-any.whl (10.2 MB)"
      done
      echo "Building wheels for collected packages: mlmon-nb"
      echo "        ############################"
      echo "        # Package would be ignored #"
      echo "Installing collected packages: numpy, pandas"
      echo "Successfully installed numpy-1.0 pandas-1.0"
      exit "${FAKE_PIP_STATUS:-0}"
    fi
    echo "Requirement already satisfied: pip in ./.venv/lib/python3.11/site-packages (26.0)" ;;
esac
exit 0
"""


@pytest.mark.parametrize("pip_status", [0, 1])
def test_dev_setup_says_what_it_is_doing_in_a_few_lines(tmp_path, pip_status):
    (tmp_path / "dev.sh").write_text((ROOT / "dev.sh").read_text())
    (tmp_path / "pyproject.toml").write_text("")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PYTHON": str(fake), "FAKE_PIP_STATUS": str(pip_status)}
    run = subprocess.run(["bash", "dev.sh", "setup"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)
    lines = run.stderr.splitlines()
    if pip_status:
        assert run.returncode == 1 and any("pip failed (exit 1)" in line for line in lines), run.stderr
        assert "Successfully installed" in run.stderr  # the end of pip's own log, to see why
        return
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "/demo/reports/index.html"
    phases = [line for line in lines if re.match(r"dev\.sh: \[\d/4\]", line)]
    assert len(phases) == 4, run.stderr
    assert "  pip: collecting numpy (1)" in lines and "  pip: installing 25 collected packages" in run.stderr
    assert "would be ignored" not in run.stderr and "Downloading" not in run.stderr
    assert len(lines) <= 12, run.stderr
    assert (tmp_path / ".venv/pip-install.log").read_text().count("Collecting") == 25


# --------------------------------------------------------------------------- the reports of one demo week


@pytest.fixture
def week8(demo_archive):
    return demo_archive.week(8)


def _ctx_labelled(report: Path) -> int:
    found = re.search(r"window rows\s*</th>\s*<td>\s*[\d,]+ \(([\d,]+) labelled\)", report.read_text())
    assert found, report.name
    return int(found.group(1).replace(",", ""))


def test_operations_counts_labels_as_concept_drift_does(week8):
    summary, run_dir = week8
    concept, operations = _ctx_labelled(run_dir / "concept_drift.html"), _ctx_labelled(run_dir / "operations.html")
    assert operations == concept == summary["data"]["labelled_rows"] > 0


def test_explainability_opens_with_three_plain_sentences_and_names_lime_once(week8):
    summary, run_dir = week8
    assert summary["notebooks"]["explainability"]["status"] != "error"
    page = html.unescape((run_dir / "explainability.html").read_text())
    text = _text(page)
    text = text[text.index("In short ¶"):]  # the sections (headings end with their anchor), after the contents
    short = text[:text.index("How this report decides ¶")]
    body = short.split("The sections after it give the evidence.", 1)[1].split("Verdict ¶")[0]
    sentences = [s for s in re.split(r"(?<=\.)\s+", body.strip()) if s]
    assert len(sentences) == 3, sentences
    assert not [j for j in JARGON if j in body], body
    assert "discount_pct" in sentences[1]                # the flipped feature: what changed
    assert sentences[2].startswith("Most affected")      # for whom
    assert text.index("How this report decides ¶") < text.index("Global importance: baseline against window ¶")
    assert "Skipped" not in text
    # LIME is named in one paragraph of the methods, and elsewhere only where it ran (lime installed)
    methods = text[text.index("How this report decides ¶"):text.index("How the attributions were computed ¶")]
    rest = text.replace(methods, "")
    assert "LIME" in methods and ("LIME" not in rest or "Cross-check with LIME" in rest)
    headers = [h.strip() for h in re.findall(r"<th[^>]*>([^<]*)</th>", page.split("How the model responds where")[-1])]
    assert "device level" in headers and "region" not in headers  # the demo's drifted device, by its levels


def test_latency_histogram_draws_no_open_bin_and_names_its_share(recwarn):
    """The baseline's latency histogram: the open "inf" bin has no width (inf - inf once printed a
    RuntimeWarning with a source path into the report); it is named in the legend instead."""
    from mlmon_nb.plots.baseline import latency_histogram

    fig = latency_histogram({"10": 5, "20": 50, "40": 43, "inf": 2}, {"p50": 18.0, "p95": 35.0})
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "2.00% of requests above 40 ms (not drawn)" in labels
    bars = fig.axes[0].patches
    assert len(bars) == 3 and all(np.isfinite(b.get_width()) for b in bars)
    assert abs(sum(b.get_height() for b in bars) - 98.0) < 1e-9  # shares of all requests, overflow included
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
