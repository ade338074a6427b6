"""Shared fixtures: small projects with planted, known properties."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

UTC = dt.timezone.utc

# Kernels draw their figures inline in the suite: its two workers (and their kernels) already fill
# both cores, where forked drawing workers only add forks. tests/test_drawing.py turns them on.
os.environ.setdefault("MLMON_FIGURE_WORKERS", "0")


def make_frame(n: int, start: str, rng: np.random.Generator, *, freq_minutes: float = 10.0,
               shift: float = 0.0) -> pd.DataFrame:
    """Rows with two numeric and two categorical features, a score, a key and a target."""
    ts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.arange(n) * freq_minutes, unit="min")
    price = rng.lognormal(3.5, 0.4, n) + shift
    tenure = rng.gamma(2.0, 100.0, n)
    device = rng.choice(["mobile", "desktop", "tablet"], n, p=[0.55, 0.35, 0.10])
    region = rng.choice(["na", "eu", "apac"], n)
    logit = -2.0 - 0.02 * (price - 35) + 0.5 * (device == "mobile")
    p = 1 / (1 + np.exp(-logit))
    return pd.DataFrame({
        "ts": ts, "request_id": [f"r{start[:10]}-{i}" for i in range(n)],
        "price": price, "user_tenure_days": tenure, "device": device, "region": region,
        "score": p, "clicked": (rng.random(n) < p).astype(int), "model_version": "1",
    })


def write_project(root: Path, *, logs: Path | str = "data/logs", reference: str = "data/reference.parquet",
                  extra: dict | None = None, model_extra: dict | None = None) -> Path:
    cfg = {
        "archive": "reports",
        "models": {
            "m": {
                "task": "binary_classification", "timestamp": "ts", "prediction": "score",
                "target": "clicked", "reference": reference, "logs": str(logs),
                "features": {"numeric": ["price", "user_tenure_days"], "categorical": ["device", "region"]},
                "versions": {"1": {}},
                **(model_extra or {}),
            }
        },
        **(extra or {}),
    }
    path = root / "mlmon.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def small_project(tmp_path: Path):
    """A project with hive-partitioned daily parquet logs over 4 weeks and a reference."""
    rng = np.random.default_rng(7)
    (tmp_path / "data").mkdir()
    make_frame(3000, "2026-09-01", rng).to_parquet(tmp_path / "data/reference.parquet")
    logs = make_frame(4 * 7 * 144, "2026-10-05", rng)
    for day, part in logs.groupby(logs["ts"].dt.strftime("%Y-%m-%d")):
        folder = tmp_path / "data/logs" / f"day={day}"
        folder.mkdir(parents=True)
        part.to_parquet(folder / "part-0.parquet", row_group_size=48)
    return write_project(tmp_path), logs


# --------------------------------------------------------------------------- scheduling

#: Test files by their measured time on 2 cores, longest first (``--durations``). ``./dev.sh test``
#: hands whole files to its two workers in collection order (``--dist loadfile
#: --no-loadscope-reorder``): starting with the longest is the classic longest-first schedule, and
#: the two workers finish close together. test_golden.py comes first: it builds the demo's ten
#: archived weeks (:func:`demo_archive`) that tests in other files then read.
LONGEST_FIRST = ("test_golden.py", "test_onboarding.py", "test_drift.py", "test_cli.py", "test_detection.py",
                 "test_browser.py", "test_spark_drift.py", "test_concept_summary.py", "test_e2e.py",
                 "test_incidents.py", "test_demo_regression.py", "test_explain.py", "test_scoring.py",
                 "test_concept.py", "test_engines.py", "test_operations.py", "test_baseline.py",
                 "test_summary_ops_feedback.py", "test_feedback.py", "test_compare.py", "test_forkserver.py",
                 "test_drawing.py", "test_presentation.py", "test_demo.py")


#: Files that start Spark (local[2]): one worker runs them all, so one JVM starts and warms up
#: (about 10 s of CPU each time) instead of one per worker.
SPARK_FILES = ("test_spark_drift.py", "test_scoring.py", "test_summary_ops_feedback.py", "test_spark_concept.py",
               "test_engines.py", "test_spark_explain.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept otherwise


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: unknown when it is not loaded (-p no:xdist)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with the Spark files as one unit of work (pytest-xdist's own hook; its
    ``xdist_group`` marks stopped grouping on pytest 9.2, pytest-dev/pytest-xdist#1386)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling  # pytest-xdist only when it distributes the tests

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return "spark" if Path(path).name in SPARK_FILES else path

    return Scheduling(config, log)


# --------------------------------------------------------------------------- the demo, built once

DEMO_SCALE = 0.25


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The demo project at small scale with its baseline archived (built once per test session).

    Tests run the windows they need through :func:`run_window` and must not
    modify the project's data; each run adds its own run folder to the archive.
    """
    from mlmon_nb.demo import build_demo
    from mlmon_nb.runner import execute_baseline, prepare_baseline

    root = tmp_path_factory.mktemp("demo") / "project"
    project = build_demo(root, scale=DEMO_SCALE, weeks=10, seed=0)
    outcome = execute_baseline(prepare_baseline(project.project_path, project.model, project.version))
    assert outcome.exit_code == 0, outcome.run_dir
    return project


@dataclasses.dataclass(frozen=True)
class DemoArchive:
    """The session demo's ten weeks run in order with every notebook, in an archive of their own."""

    project: Path  # the copy's mlmon.yaml
    runs: tuple[tuple[Path, int], ...]  # (run folder, exit code) of each week, in order

    @property
    def archive(self) -> Path:
        return self.project.parent / "reports"

    def week(self, week: int) -> tuple[dict, Path]:
        """(summary, run folder) of demo week ``week`` (1-based)."""
        import json

        run_dir = self.runs[week - 1][0]
        return json.loads((run_dir / "summary.json").read_text()), run_dir


@pytest.fixture(scope="session")
def demo_archive(demo, tmp_path_factory) -> DemoArchive:
    """The ten demo weeks as a scheduler runs them: in order, every notebook, failing on alerts (about
    3 minutes on 2 cores). Built once per test session: under pytest-xdist by the first worker that
    asks, in the folder the workers share, while the other waits on a lock (test_golden.py asks
    first). Read it, never add to it: a test that runs a window of its own copies it first."""
    import fcntl
    import json

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if worker else base  # the session's folder, above each worker's own
    ready = shared / "demo-archive.json"
    with open(shared / "demo-archive.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or if the worker dies
        if not ready.is_file():
            ready.write_text(json.dumps(_build_demo_archive(demo, tmp_path_factory)))
    built = json.loads(ready.read_text())
    return DemoArchive(Path(built["project"]), tuple((Path(r), code) for r, code in built["runs"]))


def _build_demo_archive(demo, tmp_path_factory) -> dict:
    from mlmon_nb.runner import execute_plan, prepare_window_run

    project = copy_demo(demo, tmp_path_factory.mktemp("demo-archive"))
    runs = []
    for start, end in demo.windows:
        plan = prepare_window_run(project, demo.model, demo.version, f"{start.isoformat()}/{end.isoformat()}",
                                  None, {})
        outcome = execute_plan(plan, fail_on="alert")
        runs.append((str(outcome.run_dir), outcome.exit_code))
    return {"project": str(project), "runs": runs}


def run_window(project, week: int, notebooks, params=None, fail_on="never"):
    """Run notebooks on demo week ``week`` (1-based); return (summary, run folder)."""
    from mlmon_nb.runner import execute_plan, prepare_window_run

    start, end = project.windows[week - 1]
    plan = prepare_window_run(project.project_path, project.model, project.version,
                              f"{start.isoformat()}/{end.isoformat()}", list(notebooks), params or {})
    outcome = execute_plan(plan, fail_on=fail_on)
    return outcome.summary, outcome.run_dir


def checks_of(summary, kind=None, status=None):
    """The checks of a summary, filtered by kind and/or minimum status."""
    from mlmon_nb.checks import SEVERITY

    out = summary["checks"]
    if kind:
        out = [c for c in out if c["kind"] == kind]
    if status:
        out = [c for c in out if SEVERITY[c["status"]] >= SEVERITY[status]]
    return out


def copy_demo(project, tmp_path: Path) -> Path:
    """A private copy of the session demo with its baseline and no run: for tests that need an
    archive of their own (incidents, acknowledgements). Returns the copy's mlmon.yaml."""
    import shutil

    src = Path(project.project_path).parent
    dst = tmp_path / "copy"
    dst.mkdir(parents=True)
    for name in ("data", "models", "mlmon.yaml", "ground_truth.json"):
        s = src / name
        if s.is_dir():
            shutil.copytree(s, dst / name)
        elif s.exists():
            shutil.copy(s, dst / name)
    for baseline in src.glob("reports/*/*/baseline"):
        shutil.copytree(baseline, dst / baseline.relative_to(src))
    models_loaded = src / "reports" / ".mlmon" / "models"  # the records of model files that loaded
    if models_loaded.is_dir():
        shutil.copytree(models_loaded, dst / models_loaded.relative_to(src))
    return dst / "mlmon.yaml"


def shared_fork_server_env() -> dict[str, str]:
    """The environment for an ``mlmon`` subprocess that forks its kernels from this test worker's
    fork server (:class:`mlmon_nb.forkserver.SharedServer`) instead of starting one that imports
    every notebook's modules again (~3 s of CPU per command)."""
    import os

    from mlmon_nb.forkserver import SERVER_ENV, ensure_server
    from mlmon_nb.kernels import fork_modules

    server = ensure_server(fork_modules())
    return {**os.environ, SERVER_ENV: server.address} if server is not None else dict(os.environ)
