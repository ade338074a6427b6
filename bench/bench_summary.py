"""data_drift in summary mode (issue 17): wall time and peak memory against the window's rows.

The project of ``bench/bench_data_drift.py`` (1M-row reference, 25 features: 17 numeric, 8
categorical, drift planted in 5), with its window's logs regenerated at N rows (1M-row parquet
files, the same distributions, timestamps spread over the week). For each N:

- **direct**: a Python process opens the window in summary mode
  (``mn.open_window(..., summarise=True)``) and runs ``mn.drift.analyse`` (the notebook's work
  without papermill and HTML);
- **mlmon run** (``--run``): ``mlmon run -n data_drift`` end to end (summary mode is chosen by
  itself above ``mlmon_nb.summary.SUMMARISE_ABOVE`` rows).

Peak memory is the largest sum of RSS of the process and its children (sampled every 50 ms).
Usage::

    .venv/bin/python bench/bench_summary.py --rows 1000000 10000000 [--run]

Data goes to ``bench/data/summary/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_data_drift import MLMON, WINDOW, build_project, features, measure, timestamps  # noqa: E402
from common import machine  # noqa: E402

CHUNK = 1_000_000
DIRECT = """
import sys, time, mlmon_nb as mn
t = time.perf_counter()
ctx = mn.open_window("mlmon.yaml", "bench", "1", sys.argv[1], notebook="data_drift", reference_rows=False,
                     summarise=True)
dd = mn.drift.analyse(ctx)
alerts = sorted(f.feature for f in dd.univariate.features if f.status == "alert")
print({"rows": ctx.rows, "seconds": round(time.perf_counter() - t, 1), "alerts": alerts, "note": dd.how[0]})
"""


def project_with_rows(base: Path, rows: int) -> Path:
    """A copy of the 1M project whose window holds ``rows`` rows (files of 1M rows each)."""
    folder = base / f"rows-{rows}"
    logs = folder / "data" / "logs"
    if (folder / "mlmon.yaml").is_file() and sum(1 for _ in logs.glob("*.parquet")) == -(-rows // CHUNK):
        return folder
    import joblib
    import yaml

    spec = json.loads((base / "reference" / "spec.json").read_text())
    (folder / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy(base / "reference" / "data" / "reference.parquet", folder / "data" / "reference.parquet")
    shutil.copytree(base / "reference" / "models", folder / "models", dirs_exist_ok=True)
    if (base / "reference" / "reports").is_dir():  # the archived baseline: fitted once, reused
        shutil.copytree(base / "reference" / "reports", folder / "reports", dirs_exist_ok=True)
    config = yaml.safe_load((base / "reference" / "mlmon.yaml").read_text())
    config["models"]["bench"]["logs"] = "data/logs/"
    (folder / "mlmon.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    model = joblib.load(folder / "models" / "1.joblib")
    logs.mkdir(parents=True, exist_ok=True)
    parts = -(-rows // CHUNK)
    span = (WINDOW[1] - WINDOW[0]) / parts
    for i in range(parts):
        n = min(CHUNK, rows - i * CHUNK)
        rng = np.random.default_rng(1000 + i)
        cur = pd.DataFrame(features(rng, n, drifted=True))
        cur.insert(0, "ts", timestamps(rng, n, WINDOW[0] + i * span, WINDOW[0] + (i + 1) * span))
        cur["score"] = model.predict_proba(cur[spec["numeric"] + spec["categorical"]])[:, 1]
        cur["model_version"] = "1"
        cur.to_parquet(logs / f"part-{i:04d}.parquet", index=False, row_group_size=100_000)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--run", action="store_true", help="also time `mlmon run -n data_drift`")
    args = parser.parse_args()
    base = HERE / "data" / "summary"
    (base / "reference").mkdir(parents=True, exist_ok=True)
    build_project(base / "reference", 1_000_000)
    if not list((base / "reference" / "reports").glob("bench/1/baseline/*/baseline.json")):
        res = measure([str(MLMON), "baseline", "-p", "mlmon.yaml", "-m", "bench", "-v", "1"],
                      base / "baseline.log", cwd=base / "reference")
        print("baseline", res, flush=True)
    window = f"{WINDOW[0].date()}/{WINDOW[1].date()}"
    print(f"machine: {machine()}", flush=True)
    for rows in args.rows:
        folder = project_with_rows(base, rows)
        size = sum(p.stat().st_size for p in (folder / "data" / "logs").glob("*.parquet")) / 2**30
        direct = measure([sys.executable, "-c", DIRECT, window], folder / "direct.log", cwd=folder)
        out = (folder / "direct.log").read_text().strip().splitlines()[-1]
        print(f"rows {rows:,} ({size:.2f} GiB parquet) direct: {direct} {out}", flush=True)
        if args.run:
            run = measure([str(MLMON), "run", "-p", "mlmon.yaml", "-m", "bench", "-v", "1", "-w", window,
                           "-n", "data_drift", "--fail-on", "never"], folder / "run.log", cwd=folder)
            print(f"rows {rows:,} mlmon run: {run}", flush=True)


if __name__ == "__main__":
    main()
