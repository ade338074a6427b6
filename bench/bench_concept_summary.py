"""concept_drift in summary mode (issue 17): wall time and peak memory against the window's rows.

The 1M-row reference project of ``bench/bench_summary.py`` (25 features, a logistic model, its
baseline archived once), with a labelled window regenerated at N rows (1M-row parquet files, the
reference's distributions, timestamps spread over the week, 70% of rows labelled, the effect of
``f00`` on the outcome reversed from the middle of the week on: a planted concept flip). For each N:

- **summary**: a Python process opens the window in summary mode
  (``mn.open_window(..., notebook="concept_drift", summarise=True)``) and runs
  ``mn.concept.analyse`` (the notebook's work without papermill and HTML);
- **memory** (``--memory``, for the sizes given to it): the same with ``summarise=False``, the
  rows read into pandas (the path below ``SUMMARISE_ABOVE``).

Peak memory is the largest sum of RSS of the process and its children (sampled every 50 ms).
Usage::

    .venv/bin/python bench/bench_concept_summary.py --rows 1000000 10000000 --memory 1000000

Data goes to ``bench/data/concept_summary/`` (git-ignored).
"""

from __future__ import annotations

import argparse
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
LABELLED = 0.7
FLIP_AT = WINDOW[0] + (WINDOW[1] - WINDOW[0]) / 2
DIRECT = """
import sys, time, mlmon_nb as mn
t = time.perf_counter()
ctx = mn.open_window("mlmon.yaml", "bench", "1", sys.argv[1], notebook="concept_drift", reference_rows=False,
                     summarise=sys.argv[2] == "summary")
r = mn.concept.analyse(ctx)
alerts = sorted({(c["kind"], c["subject"]) for c in r.checks() if c["status"] == "alert"})
print({"rows": ctx.rows, "seconds": round(time.perf_counter() - t, 1), "status": r.status,
       "onset": str(r.consensus_onset()), "alerts": alerts,
       "roc_auc": round(float(r.chunks.window("roc_auc")["realized"]), 5), "note": r.how[0] if r.how else ""})
"""


def _outcome(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """The reference's outcome model, with the effect of f00 reversed from FLIP_AT on; 30% unlabelled."""
    flipped = (frame["ts"] >= FLIP_AT).to_numpy()
    effect = np.where(flipped, -0.04, 0.04)
    logit = -2.0 + effect * (frame["f00"] - 50) - 0.02 * (frame["f02"] - 52) + 0.5 * (frame["c01"] == "b0")
    y = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(float)
    y[rng.random(len(frame)) >= LABELLED] = np.nan
    return y


def project_with_rows(base: Path, reference: Path, rows: int) -> Path:
    """A copy of the 1M reference project whose labelled window holds ``rows`` rows (files of 1M rows)."""
    folder = base / f"rows-{rows}"
    logs = folder / "data" / "logs"
    if (folder / "mlmon.yaml").is_file() and sum(1 for _ in logs.glob("*.parquet")) == -(-rows // CHUNK):
        return folder
    import joblib
    import yaml

    spec = yaml.safe_load((reference / "mlmon.yaml").read_text())["models"]["bench"]["features"]
    (folder / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy(reference / "data" / "reference.parquet", folder / "data" / "reference.parquet")
    shutil.copytree(reference / "models", folder / "models", dirs_exist_ok=True)
    shutil.copytree(reference / "reports", folder / "reports", dirs_exist_ok=True)  # the archived baseline
    config = yaml.safe_load((reference / "mlmon.yaml").read_text())
    config["models"]["bench"]["logs"] = "data/logs/"
    (folder / "mlmon.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    model = joblib.load(folder / "models" / "1.joblib")
    logs.mkdir(parents=True, exist_ok=True)
    parts = -(-rows // CHUNK)
    span = (WINDOW[1] - WINDOW[0]) / parts
    for i in range(parts):
        n = min(CHUNK, rows - i * CHUNK)
        rng = np.random.default_rng(2000 + i)
        cur = pd.DataFrame(features(rng, n, drifted=False))
        cur.insert(0, "ts", timestamps(rng, n, WINDOW[0] + i * span, WINDOW[0] + (i + 1) * span))
        cur["score"] = model.predict_proba(cur[spec["numeric"] + spec["categorical"]])[:, 1]
        cur["y"] = _outcome(cur, rng)
        cur["model_version"] = "1"
        cur.to_parquet(logs / f"part-{i:04d}.parquet", index=False, row_group_size=100_000)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--memory", type=int, nargs="*", default=[1_000_000],
                        help="sizes also run in memory (summarise=False)")
    args = parser.parse_args()
    reference = HERE / "data" / "summary" / "reference"
    build_project(reference, 1_000_000)
    if not list((reference / "reports").glob("bench/1/baseline/*/baseline.json")):
        res = measure([str(MLMON), "baseline", "-p", "mlmon.yaml", "-m", "bench", "-v", "1"],
                      reference.parent / "baseline.log", cwd=reference)
        print("baseline", res, flush=True)
    base = HERE / "data" / "concept_summary"
    window = f"{WINDOW[0].date()}/{WINDOW[1].date()}"
    print(f"machine: {machine()}", flush=True)
    for rows in sorted(set(args.rows) | set(args.memory or ())):
        folder = project_with_rows(base, reference, rows)
        size = sum(p.stat().st_size for p in (folder / "data" / "logs").glob("*.parquet")) / 2**30
        for mode in ("summary", "memory"):
            if (mode == "summary" and rows not in args.rows) or (mode == "memory" and rows not in (args.memory or ())):
                continue
            res = measure([sys.executable, "-c", DIRECT, window, mode], folder / f"{mode}.log", cwd=folder)
            out = (folder / f"{mode}.log").read_text().strip().splitlines()[-1]
            print(f"rows {rows:,} ({size:.2f} GiB parquet) {mode}: {res} {out}", flush=True)


if __name__ == "__main__":
    main()
