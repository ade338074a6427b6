"""Per-notebook overhead of a run: kernel start + papermill + nbconvert export (issue 2).

Runs a trivial notebook (parameters cell + `import mlmon_nb`) through the real runner N times and
reports the time per notebook; then times the data_drift notebook on a demo week for context.

    .venv/bin/python bench/bench_overhead.py --project mlmon-demo/mlmon.yaml
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

from common import machine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", required=True)
    ap.add_argument("--window", default="2026-10-05/2026-10-12")
    ap.add_argument("-n", type=int, default=5)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp())
    params = nbformat.v4.new_code_cell('project = ""\nmodel = ""\nversion = ""\nwindow = ""\nrun_id = ""\n'
                                       'output = ""\nwork_dir = ""')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Probe"), params,
                                         nbformat.v4.new_code_cell("import mlmon_nb\nmlmon_nb.Recorder('probe', output)")])
    nb.metadata["kernelspec"] = {"name": "mlmon-nb", "display_name": "Python (mlmon-nb)", "language": "python"}
    nbformat.write(nb, str(folder / "probe.ipynb"))
    os.environ["MLMON_NOTEBOOK_PATH"] = str(folder)
    from mlmon_nb.runner import execute_plan, prepare_window_run

    def timed(names):
        plan = prepare_window_run(args.project, "ctr-ranker", "2", args.window, names)
        t = time.perf_counter()
        outcome = execute_plan(plan, fail_on="never")
        return time.perf_counter() - t, outcome

    timed(["probe"])  # warm caches (imports, font cache)
    probe = [timed(["probe"])[0] for _ in range(args.n)]
    print(f"trivial notebook, whole run (kernel start + papermill + nbconvert + archive): "
          f"median {statistics.median(probe):.2f} s, min {min(probe):.2f} s over {args.n} runs")
    seconds, outcome = timed(["data_drift"])
    print(f"data_drift on {args.window}: {seconds:.2f} s for the run "
          f"({outcome.summary['data']['current_rows']:,} window rows)")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
