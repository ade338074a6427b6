"""Tests of the `mlmon` command: bad input (exit 2, one line, archive untouched), exit codes,
atomic run folders, failing notebooks (exit 3 with an archived error report)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import nbformat
import numpy as np
import pytest
import skops.io as sio
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from mlmon_nb.cli import entry

from conftest import make_frame, write_project

WINDOW = "2026-10-05/2026-10-12"
MLMON = str(Path(sys.executable).parent / "mlmon")


def _train(frame):
    ct = ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["device", "region"])],
                           remainder="passthrough")
    X = frame[["price", "user_tenure_days", "device", "region"]]
    return Pipeline([("ct", ct), ("m", LogisticRegression(max_iter=500))]).fit(X, frame["clicked"])


@pytest.fixture(scope="module")
def project_files(tmp_path_factory):
    """A small valid project, made once for the module: daily parquet logs over two weeks, a reference
    and a skops model. Each test works on a copy (``project``)."""
    root = tmp_path_factory.mktemp("cli-project")
    rng = np.random.default_rng(11)
    (root / "data/logs").mkdir(parents=True)
    ref = make_frame(6000, "2026-09-01", rng)
    ref.to_parquet(root / "data/reference.parquet")
    logs = make_frame(14 * 144, "2026-10-05", rng)
    logs.to_parquet(root / "data/logs/part-0.parquet")
    (root / "models").mkdir()
    model = _train(ref)
    sio.dump(model, root / "models/m.skops")
    joblib.dump(model, root / "models/m.joblib")
    return write_project(root, logs="data/logs", model_extra={"versions": {"1": {"model": "models/m.skops"}}})


def _copy_project(files: Path, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in ("data", "models"):
        shutil.copytree(files.parent / name, root / name)
    shutil.copy(files, root / files.name)
    return root / files.name


@pytest.fixture
def project(project_files, tmp_path):
    """A copy of the module's project (same bytes: a baseline of one fits the other)."""
    return _copy_project(project_files, tmp_path)


@pytest.fixture(scope="module")
def baselined(project_files, tmp_path_factory):
    """The module's project with its baseline archived, fitted once; ``_baseline`` copies the archive."""
    from mlmon_nb.runner import execute_baseline, prepare_baseline

    path = _copy_project(project_files, tmp_path_factory.mktemp("cli-baselined"))
    assert execute_baseline(prepare_baseline(path, "m", "1")).exit_code == 0
    return path


def invoke(args, capsys):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    old = sys.argv
    sys.argv = ["mlmon", *args]
    try:
        with pytest.raises(SystemExit) as info:
            entry()
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def _edit(path: Path, change) -> None:
    cfg = yaml.safe_load(path.read_text())
    change(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


_BOMB = "x_bomb:\n" + "".join(
    f"  {n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]\n" for p, n in zip("abcdefgh", "bcdefghi")
).replace("  b: &b [*a", "  a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n  b: &b [*a", 1)


def _csv_reference(project: Path, bad: str) -> None:
    import pandas as pd

    ref = pd.read_parquet(project.parent / "data/reference.parquet")
    ref["price"] = ref["price"].astype(object)
    ref.loc[17, "price"] = bad
    ref.to_csv(project.parent / "data/reference.csv", index=False)


def _bad_cases():
    m = lambda cfg: cfg["models"]["m"]  # noqa: E731
    return {
        "missing project file": (lambda p: p.unlink(), [], "file not found"),
        "unparsable yaml": (lambda p: p.write_text("archive: [unclosed\n"), [], "mlmon.yaml"),
        "missing key": (lambda p: _edit(p, lambda c: m(c).pop("timestamp")), [], "timestamp"),
        "unknown key": (lambda p: _edit(p, lambda c: m(c).__setitem__("traget", "y")), [], "traget"),
        "unknown model": (None, ["-m", "nope"], "no model 'nope'"),
        "unknown version": (None, ["-v", "9"], "9"),
        "window not START/END": (None, ["-w", "last week"], "START/END"),
        "END before START": (None, ["-w", "2026-10-12/2026-10-05"], "after START"),
        "window without rows": (None, ["-w", "2027-01-01/2027-01-08"], "no rows"),
        "logs path missing": (lambda p: _edit(p, lambda c: m(c).__setitem__("logs", "data/none")), [], "not found"),
        "logs folder empty": (lambda p: (p.parent / "data/empty").mkdir() or _edit(
            p, lambda c: m(c).__setitem__("logs", "data/empty")), [], "no parquet or CSV"),
        "corrupt parquet": (lambda p: (p.parent / "data/logs/part-1.parquet").write_bytes(b"PAR1garbage" * 9),
                            [], "not a readable parquet file"),
        "csv with bad bytes": (lambda p: ((p.parent / "data/c.csv").write_bytes(
            b"ts,price\n2026-10-05,\xff\xfe\n"), _edit(p, lambda c: m(c).__setitem__("logs", "data/c.csv"))),
            [], "UTF-8"),
        "feature column missing": (lambda p: _edit(p, lambda c: m(c)["features"]["numeric"].append("nope")),
                                   [], "column 'nope'"),
        "feature of unusable type": (lambda p: _edit(p, lambda c: (m(c)["features"]["numeric"].append("request_id"))),
                                     [], "expected a number"),
        "model file missing": (lambda p: _edit(p, lambda c: m(c)["versions"]["1"].__setitem__("model", "models/x.skops")),
                               [], "model file not found"),
        # Loaded (and so checked) when a selected notebook scores with it: explainability does.
        "model file unreadable": (lambda p: (p.parent / "models/m.skops").write_bytes(b"nonsense"),
                                  ["-n", "explainability"], "not a readable skops file"),
        "untrusted pickle": (lambda p: _edit(p, lambda c: m(c)["versions"]["1"].__setitem__("model", "models/m.joblib")),
                             ["-n", "explainability"], "trusted: true"),
        "model file unreadable, every notebook": (lambda p: (p.parent / "models/m.skops").write_bytes(b"nonsense"),
                                                  ["-n", "data_drift,explainability"], "not a readable skops file"),
        "model name escaping the archive": (lambda p: _edit(p, lambda c: c["models"].__setitem__("../x", c["models"].pop("m"))),
                                            ["-m", "../x"], "archive"),
        "version name escaping the archive": (None, ["-v", "../1"], "version"),
        "unknown statistic in thresholds": (lambda p: _edit(p, lambda c: m(c).__setitem__(
            "thresholds", {"methods": {"kss": {"alert": 0.2}}})), [], "unknown name 'kss'"),
        "unknown metric in thresholds": (lambda p: _edit(p, lambda c: m(c).__setitem__(
            "thresholds", {"metrics": {"latency_p59": {"alert": 200}}})), [], "thresholds.metrics.latency_p59"),
        "yaml alias bomb": (lambda p: p.write_text(p.read_text() + _BOMB), [], "alias bomb"),
        "archive is a system folder": (lambda p: _edit(p, lambda c: c.__setitem__("archive", "/")), [],
                                       "system folder"),
        "archive is a file": (lambda p: ((p.parent / "afile").write_text("x"), _edit(
            p, lambda c: c.__setitem__("archive", "afile"))), [], "is a file, not a folder"),
        "logs at the filesystem root": (lambda p: _edit(p, lambda c: m(c).__setitem__("logs", "/")), [],
                                        "system folder"),
        "webhook url with a space": (lambda p: _edit(p, lambda c: c.__setitem__(
            "alerts", {"webhooks": [{"url": "https://h.example/T0 B1"}]})), [], "whitespace"),
        "webhook url_env not set": (lambda p: _edit(p, lambda c: c.__setitem__(
            "alerts", {"webhooks": [{"url_env": "MLMON_UNSET_HOOK_VARIABLE"}]})), [], "MLMON_UNSET_HOOK_VARIABLE"),
        "threshold for a feature not monitored": (lambda p: _edit(p, lambda c: m(c).__setitem__(
            "thresholds", {"features": {"prize": {"alert": 0.2}}})), [], "'prize' is not a monitored feature"),
        "unknown notebook": (None, ["-n", "nope"], "unknown notebook 'nope'"),
        "unknown parameter": (None, ["-P", "nope=1"], "parameter 'nope'"),
        "parameter of the wrong type": (None, ["-P", "top_n=abc"], "data_drift's top_n expects an integer"),
        "parameter out of range": (None, ["-n", "explainability", "-P", "max_rows=0"], "max_rows expects an integer >= 1"),
        "unknown statistic parameter": (None, ["-P", "statistics=bogus"], "'bogus' is not one"),
        "cohort that is code": (None, ["-n", "explainability", "-P",
                                       "cohort=price.__init__.__globals__.get('sys').modules.get('os')"
                                       ".system('touch pwned') == 0"], "is not allowed (attribute"),
        "window of year 1": (None, ["-w", "0001-01-01/2026-11-16"], "between 1970-01-01 and 2200-01-01"),
        "window longer than allowed": (None, ["-w", "2025-01-01/2026-10-12"], "max_window_days"),
        "reserved notebook name": (None, ["-n", "index"], "reserved"),
        "text in a numeric reference column": (lambda p: (_csv_reference(p, "abc"), _edit(
            p, lambda c: m(c).__setitem__("reference", "data/reference.csv"))), [], "expected a number"),
        "reference without rows": (lambda p: (
            __import__("pandas").read_parquet(p.parent / "data/reference.parquet").iloc[:0].to_parquet(
                p.parent / "data/empty.parquet"),
            _edit(p, lambda c: m(c).__setitem__("reference", "data/empty.parquet"))), [], "has no rows"),
        "reference without the configured columns": (lambda p: (
            __import__("pandas").DataFrame({"a": range(10)}).to_parquet(p.parent / "data/other.parquet"),
            _edit(p, lambda c: m(c).__setitem__("reference", "data/other.parquet"))), [], "column 'price'"),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_bad_input_exits_2_with_one_line_and_leaves_the_archive_alone(project, capsys, case):
    mutate, extra, expected = _bad_cases()[case]
    archive = project.parent / "reports"
    before = _tree(archive)
    if mutate:
        mutate(project)
    options = {"-p": str(project), "-m": "m", "-v": "1", "-w": WINDOW, "-n": "data_drift"}
    options.update(zip(extra[::2], extra[1::2]))
    args = ["run"] + [x for kv in options.items() for x in kv]
    code, out, err = invoke(args, capsys)
    assert code == 2, (case, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("mlmon: error: ")
    assert expected in lines[0], lines[0]
    assert "Traceback" not in err
    assert not (Path.cwd() / "pwned").exists() and not (project.parent / "pwned").exists()
    assert _tree(archive) == before


def test_runs_that_only_read_logged_scores_hash_the_model_file_without_loading_it(project, monkeypatch):
    """data_drift and the other logged-score notebooks never load the model file: the preflight
    hashes it (for the fingerprint) but does not import scikit-learn to unpickle it."""
    import mlmon_nb.baseline
    from mlmon_nb.errors import ModelError
    from mlmon_nb.runner import prepare_window_run

    monkeypatch.setattr(mlmon_nb.baseline, "latest_baseline_id", lambda *a: "B1")  # no notebook runs here
    monkeypatch.setattr(mlmon_nb.baseline, "verify_baseline", lambda folder: {})
    good = prepare_window_run(project, "m", "1", WINDOW, ["data_drift"])
    (project.parent / "models/m.skops").write_bytes(b"nonsense")
    plan = prepare_window_run(project, "m", "1", WINDOW, ["data_drift", "operations", "concept_drift"])
    assert plan.data["fingerprint"] != good.data["fingerprint"]  # the file's content is still covered
    with pytest.raises(ModelError, match="not a readable skops file"):
        prepare_window_run(project, "m", "1", WINDOW, ["data_drift", "explainability"])


def test_a_model_file_is_loaded_by_the_first_run_that_needs_it_and_recorded_for_the_next(project, monkeypatch):
    """The preflight loads a model file (importing scikit-learn) once per file content: the run
    records what it found in the archive, and later runs check the same bytes from that record."""
    import mlmon_nb.baseline
    from mlmon_nb import models
    from mlmon_nb.errors import ModelError
    from mlmon_nb.runner import prepare_window_run

    monkeypatch.setattr(mlmon_nb.baseline, "latest_baseline_id", lambda *a: "B1")  # no notebook runs here
    monkeypatch.setattr(mlmon_nb.baseline, "verify_baseline", lambda folder: {})
    archive = project.parent / "reports"
    first = prepare_window_run(project, "m", "1", WINDOW, ["explainability"])
    assert first.model_file.record is not None and not (archive / models.VERIFIED_DIR).exists()
    first.model_file.keep(archive)  # what execute_plan does once the run is under way

    def refuse(*args):
        raise AssertionError("loaded again")
    real = models.load_model
    monkeypatch.setattr(models, "load_model", refuse)
    again = prepare_window_run(project, "m", "1", WINDOW, ["explainability"])
    assert again.data["fingerprint"] == first.data["fingerprint"] and again.model_file.record is None
    monkeypatch.setattr(models, "load_model", real)
    (project.parent / "models/m.skops").write_bytes(b"nonsense")  # other bytes: loaded, refused as before
    with pytest.raises(ModelError, match="not a readable skops file"):
        prepare_window_run(project, "m", "1", WINDOW, ["explainability"])


def test_missing_options_are_one_line_too(capsys):
    code, _, err = invoke(["run", "-p", "mlmon.yaml"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Missing option" in err


def test_help_explains_every_option_with_an_example(capsys):
    for cmd in ("run", "baseline", "index", "demo"):
        code, out, _ = invoke([cmd, "--help"], capsys)
        assert code == 0
        assert "Example" in out or "e.g." in out, cmd


def _notebook(path: Path, body: str) -> None:
    params = nbformat.v4.new_code_cell(
        'project = ""\nmodel = ""\nversion = ""\nwindow = ""\nrun_id = ""\noutput = ""\nwork_dir = ""')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Probe"), params,
                                         nbformat.v4.new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": "mlmon-nb", "display_name": "Python (mlmon-nb)", "language": "python"}
    nbformat.write(nb, str(path))


def _baseline(project: Path, baselined: Path) -> None:
    """Archive the project's baseline: the module's one (its data and model are the same bytes)."""
    shutil.copytree(baselined.parent / "reports", project.parent / "reports")


def test_failing_notebook_exits_3_and_archives_its_error_report(project, baselined, tmp_path, monkeypatch, capsys):
    _baseline(project, baselined)
    extra = tmp_path / "extra"
    extra.mkdir()
    _notebook(extra / "probe_fail.ipynb", "x = 1\nraise ValueError('planted failure 42')")
    monkeypatch.setenv("MLMON_NOTEBOOK_PATH", str(extra))
    code, out, err = invoke(["run", "-p", str(project), "-m", "m", "-v", "1", "-w", WINDOW,
                             "-n", "probe_fail,data_drift"], capsys)
    assert code == 3
    run_dir = Path(out.strip().splitlines()[-1])
    import json

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "error"
    assert summary["notebooks"]["probe_fail"]["status"] == "error"
    assert summary["notebooks"]["data_drift"]["status"] != "error"  # the others still ran
    report = (run_dir / "probe_fail.html").read_text()
    assert "planted failure 42" in report and "ValueError" in report
    import re

    text = re.sub(r"<[^>]+>", "", report)
    assert "raise ValueError('planted failure 42')" in text.replace("&#39;", "'")  # the failing cell's code
    assert (run_dir / "probe_fail.ipynb").is_file()


def test_a_kernel_killed_for_memory_is_named_with_the_window_rows(project, baselined, tmp_path, monkeypatch, capsys):
    """The kernel is SIGKILLed as the kernel's out-of-memory killer would (issue 13, finding 9)."""
    _baseline(project, baselined)
    extra = tmp_path / "extra"
    extra.mkdir()
    _notebook(extra / "probe_oom.ipynb", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    monkeypatch.setenv("MLMON_NOTEBOOK_PATH", str(extra))
    code, out, err = invoke(["run", "-p", str(project), "-m", "m", "-v", "1", "-w", WINDOW, "-n", "probe_oom"], capsys)
    assert code == 3
    assert "probe_oom kernel was killed, most likely out of memory (the window has 1,008 rows" in err
    assert "shorter window" in err and "Traceback" not in err


def _default_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def _start_slow_run(project, baselined, tmp_path, notebooks: str):
    """Start ``mlmon run`` in its own session with a notebook that sleeps; return once it is running."""
    _baseline(project, baselined)
    extra = tmp_path / "extra"
    extra.mkdir()
    _notebook(extra / "probe_slow.ipynb", "import time\ntime.sleep(120)")
    env = {**os.environ, "MLMON_NOTEBOOK_PATH": str(extra)}
    # As a terminal starts a command: Ctrl-C delivered (a suite started in the background by a
    # non-interactive shell would otherwise hand its SIGINT and SIGQUIT down ignored)
    proc = subprocess.Popen([MLMON, "run", "-p", str(project), "-m", "m", "-v", "1", "-w", WINDOW,
                             "-n", notebooks], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=_default_interrupts)
    staging = project.parent / "reports" / ".staging"
    deadline = time.time() + 120
    while time.time() < deadline and not list(staging.glob("*/probe_slow.ipynb")):
        time.sleep(0.3)
    return proc, staging


def test_killed_run_leaves_no_run_folder(project, baselined, tmp_path):
    proc, staging = _start_slow_run(project, baselined, tmp_path, "data_drift,probe_slow")
    assert list(staging.glob("*/data_drift.html")), "the run did not get to the slow notebook"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    window_dir = project.parent / "reports" / "m" / "1" / "2026-10-05_2026-10-12"
    # nothing but a hidden claim on the run id (``.<id>.reserved``), which no reader lists
    assert not window_dir.exists() or not [p for p in window_dir.iterdir() if not p.name.startswith(".")]
    from mlmon_nb.catalog import scan

    catalogue = scan(project.parent / "reports")
    assert catalogue.runs == () and catalogue.damaged == ()


def test_interrupted_run_says_one_line_and_leaves_no_run_folder_or_kernel(project, baselined, tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) during a notebook."""
    proc, _ = _start_slow_run(project, baselined, tmp_path, "probe_slow,operations")
    time.sleep(1.0)  # inside the slow cell, with the next notebook's kernel warming up
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "mlmon: aborted" and "Traceback" not in err, err
    window_dir = project.parent / "reports" / "m" / "1" / "2026-10-05_2026-10-12"
    # nothing but a hidden claim on the run id (``.<id>.reserved``), which no reader lists
    assert not window_dir.exists() or not [p for p in window_dir.iterdir() if not p.name.startswith(".")]
    deadline = time.time() + 10
    while time.time() < deadline:  # both kernels (running and warming) are gone with the command
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("processes of the interrupted run are still alive")


def test_index_lists_runs_and_baselines(project, baselined, capsys):
    _baseline(project, baselined)
    code, out, _ = invoke(["run", "-p", str(project), "-m", "m", "-v", "1", "-w", WINDOW, "-n", "data_drift",
                           "--fail-on", "never"], capsys)
    assert code == 0
    code, out, _ = invoke(["index", "-p", str(project)], capsys)
    assert code == 0
    index = Path(out.strip()).read_text()
    assert "2026-10-05" in index and "baseline" in index.lower()


def test_a_duplicated_notebook_runs_once(project, baselined):
    from mlmon_nb.runner import prepare_window_run

    _baseline(project, baselined)
    plan = prepare_window_run(project, "m", "1", WINDOW, ["operations", "data_drift", "operations"], {})
    assert plan.notebooks == ("operations", "data_drift")


def test_a_full_disk_while_staging_is_one_line_and_leaves_nothing(project, baselined, monkeypatch, capsys):
    """Used to end in a misleading NotJSONError traceback (issue 13, finding 6)."""
    import mlmon_nb.runner as runner

    _baseline(project, baselined)
    before = _tree(project.parent / "reports")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runner, "_execute_all", full)
    monkeypatch.setattr(runner.archive, "disk_full", lambda path: True)
    code, out, err = invoke(["run", "-p", str(project), "-m", "m", "-v", "1", "-w", WINDOW, "-n", "operations"],
                            capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "disk filled up" in err
    assert _tree(project.parent / "reports") == before
