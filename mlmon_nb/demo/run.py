"""``mlmon demo``: build the demo project, archive both models' baselines and run every weekly window."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlmon_nb.archive import write_index
from mlmon_nb.config import load_project
from mlmon_nb.errors import UsageError
from mlmon_nb.kernels import start_fork_server
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
    """Build the demo, archive both models' baselines and run every weekly window; return index.html.

    Each model (the CTR ranker, then the delivery-time regressor) is one lane:
    its baseline, then its weeks in order, as a scheduler runs them. The
    lanes run side by side.

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
        Show the first model's baseline notebook's cell progress.
    workers : int, optional
        Models run at the same time (default: one lane per model, or 1 on a single core).

    Returns
    -------
    Path
        The archive's index.html.
    """
    say = progress or (lambda msg: None)
    out = Path(out).resolve()
    _prepare_out(out)
    # Every kernel of the demo (two baselines, then every notebook of every week) is forked from one
    # process that imports once; started now, it imports while the data is generated.
    start_fork_server()
    say(f"building the demo project in {out} (scale {scale:g}, {weeks} weeks, exposure {exposure})")
    demo = build_demo(out, scale=scale, weeks=weeks, seed=seed, exposure=exposure)
    (out / DEMO_MARKER).write_text("built by mlmon demo\n")
    monitored = demo.monitored or ((demo.model, demo.version),)

    def lane(position: int) -> list:
        model, version = monitored[position]
        outcome = execute_baseline(prepare_baseline(demo.project_path, model, version),
                                   progress=lambda m: say(f"{model}: {m}"),
                                   show_progress=show_progress and position == 0)
        if outcome.exit_code:
            raise UsageError(f"the demo's baseline of {model} failed; see {outcome.run_dir}")
        results = []
        # One week after the other: each run's incidents follow the weeks before it (a backfill
        # out of order works too, but would page twice for the same problem).
        for start, end in demo.windows:
            plan = prepare_window_run(demo.project_path, model, version,
                                      f"{start.isoformat()}/{end.isoformat()}", notebooks)
            label = f"{model} {plan.start.date()}/{plan.end.date()}"
            result = execute_plan(plan, fail_on="never", progress=lambda m: say(f"{label} {m}"),
                                  show_progress=False)
            say(f"{label}: {result.summary['status']} — {result.summary['verdict']}")
            results.append(result)
        return results

    n = workers or (len(monitored) if (os.cpu_count() or 1) > 1 else 1)
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = [r for rs in pool.map(lane, range(len(monitored))) for r in rs]
    failed = [r.run_dir for r in results if r.summary["status"] == "error"]
    if failed:
        say(f"{len(failed)} window run(s) had a failing notebook: {', '.join(map(str, failed))}")
    return write_index(load_project(demo.project_path).archive)
