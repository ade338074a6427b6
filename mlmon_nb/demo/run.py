"""``mlmon demo``: build the demo project, archive its baseline and run every weekly window."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlmon_nb.archive import write_index
from mlmon_nb.config import load_project
from mlmon_nb.errors import UsageError
from mlmon_nb.runner import execute_baseline, execute_plan, prepare_baseline, prepare_window_run

from .build import build_demo

#: The file that marks a folder as an earlier demo, which ``mlmon demo`` may replace.
DEMO_MARKER = ".mlmon-demo"


def _prepare_out(out: Path) -> None:
    """Clear a previous demo in ``out``; refuse to touch a folder that is not one."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    if not any(out.iterdir()):
        return
    if not (out / DEMO_MARKER).is_file():
        raise UsageError(f"--out {out}: folder is not empty and holds no earlier demo; "
                         f"choose another folder or empty it")
    shutil.rmtree(out)


def run_demo(out, *, scale: float = 1.0, weeks: int = 10, seed: int = 0, exposure: str = "model",
             notebooks=None, progress=None, show_progress: bool = False, workers: int | None = None) -> Path:
    """Build the demo, archive its baseline and run every weekly window; return index.html.

    Parameters
    ----------
    out : path
        Folder of the demo project; an earlier demo there is replaced.
    scale, weeks, seed, exposure
        As :func:`~mlmon_nb.demo.build_demo`.
    notebooks : sequence of str, optional
        Window notebooks to run (default: all).
    progress : callable, optional
        Receives one line per step.
    show_progress : bool, default=False
        Show the baseline notebook's cell progress.
    workers : int, optional
        Windows run at the same time (default: 2, or 1 on a single core).

    Returns
    -------
    Path
        The archive's index.html.
    """
    say = progress or (lambda msg: None)
    out = Path(out).resolve()
    _prepare_out(out)
    say(f"building the demo project in {out} (scale {scale:g}, {weeks} weeks, exposure {exposure})")
    demo = build_demo(out, scale=scale, weeks=weeks, seed=seed, exposure=exposure)
    (out / DEMO_MARKER).write_text("built by mlmon demo\n")
    outcome = execute_baseline(prepare_baseline(demo.project_path, demo.model, demo.version),
                               progress=say, show_progress=show_progress)
    if outcome.exit_code:
        raise UsageError(f"the demo's baseline failed; see {outcome.run_dir}")
    plans = [prepare_window_run(demo.project_path, demo.model, demo.version,
                                f"{start.isoformat()}/{end.isoformat()}", notebooks)
             for start, end in demo.windows]

    def run_one(plan):
        label = f"{plan.start.date()}/{plan.end.date()}"
        result = execute_plan(plan, fail_on="never", progress=lambda m: say(f"{label} {m}"),
                              show_progress=False)
        say(f"{label}: {result.summary['status']} — {result.summary['verdict']}")
        return result

    # One week after the other, as a scheduler runs them: each run's incidents follow the weeks
    # before it (a backfill out of order works too, but would page twice for the same problem).
    n = workers or 1
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(run_one, plans))
    failed = [r.run_dir for r in results if r.summary["status"] == "error"]
    if failed:
        say(f"{len(failed)} window run(s) had a failing notebook: {', '.join(map(str, failed))}")
    return write_index(load_project(demo.project_path).archive)
