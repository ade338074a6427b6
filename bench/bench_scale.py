"""Windows larger than memory (issue 17): ``mlmon run -n data_drift,concept_drift`` at 1M / 10M /
100M rows x 25 features against a 1M-row reference, DuckDB; and 10M rows on Spark local[2].

The project is ``bench/bench_summary.py``'s (the reference, model and baseline of
``bench_data_drift.py``: 17 numeric and 8 categorical features, drift planted in 5), with logs
that also carry the outcome ``y`` (the reference's label model, so that concept drift has labels
to judge): ten distinct 1M-row files are generated once; a window of N rows holds N/1M of them,
the ten repeated (copies, not links: the engine reads every byte), timestamps spread over the
week. Summary mode is chosen by ``mlmon run`` itself above 2,000,000 rows (below it, the
in-memory path runs, as the 1M row shows).

Wall time and peak RSS (the sum over the ``mlmon`` process and every child: kernels, the JVM)
are measured around the command (``measure`` of ``bench_data_drift.py``). Usage::

    .venv/bin/python bench/bench_scale.py --rows 1000000 10000000 100000000 [--spark 10000000]

Data goes to ``bench/data/scale/`` (git-ignored; 100M rows take ~10 GiB).
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

FILE_ROWS = 1_000_000
DISTINCT = 10


def _labels(rng: np.random.Generator, frame: pd.DataFrame) -> np.ndarray:
    """The reference's label model (bench_data_drift.build_project)."""
    logit = -2.0 + 0.04 * (frame["f00"] - 50) - 0.02 * (frame["f02"] - 52) + 0.5 * (frame["c01"] == "b0")
    return (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)


def distinct_files(base: Path, reference: Path) -> list[Path]:
    """Ten 1M-row log files of the drifted window, with scores and outcomes (generated once)."""
    import joblib

    folder = base / "distinct"
    folder.mkdir(parents=True, exist_ok=True)
    spec = json.loads((reference / "spec.json").read_text())
    model = None
    out = []
    for i in range(DISTINCT):
        path = folder / f"part-{i:04d}.parquet"
        if not path.is_file():
            model = model or joblib.load(reference / "models" / "1.joblib")
            rng = np.random.default_rng(2000 + i)
            cur = pd.DataFrame(features(rng, FILE_ROWS, drifted=True))
            cur.insert(0, "ts", timestamps(rng, FILE_ROWS, *WINDOW))
            cur["score"] = model.predict_proba(cur[spec["numeric"] + spec["categorical"]])[:, 1]
            cur["y"] = _labels(rng, cur)
            cur["model_version"] = "1"
            cur.to_parquet(path, index=False, row_group_size=100_000)
        out.append(path)
    return out


def project(base: Path, reference: Path, rows: int, engine: dict | None = None) -> Path:
    """A project whose window holds ``rows`` rows (copies of the distinct files)."""
    import yaml

    name = f"rows-{rows}" + ("-spark" if engine else "")
    folder = base / name
    logs = folder / "data" / "logs"
    files = distinct_files(base, reference)
    parts = -(-rows // FILE_ROWS)
    if not (folder / "mlmon.yaml").is_file() or sum(1 for _ in logs.glob("*.parquet")) != parts:
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "data").mkdir(parents=True)
        shutil.copy(reference / "data" / "reference.parquet", folder / "data" / "reference.parquet")
        shutil.copytree(reference / "models", folder / "models")
        shutil.copytree(reference / "reports", folder / "reports")  # the archived baseline, fitted once
        logs.mkdir(parents=True)
        for i in range(parts):
            if engine:  # Spark reads no nanosecond timestamps (pandas' default): the same rows in microseconds
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pq.read_table(files[i % DISTINCT])
                at = table.schema.get_field_index("ts")
                table = table.set_column(at, "ts", table.column("ts").cast(pa.timestamp("us", tz="UTC"), safe=False))
                pq.write_table(table, logs / f"part-{i:04d}.parquet", row_group_size=100_000)
            else:
                shutil.copy(files[i % DISTINCT], logs / f"part-{i:04d}.parquet")
    config = yaml.safe_load((reference / "mlmon.yaml").read_text())
    config["models"]["bench"]["logs"] = "data/logs/"
    if engine:
        config["engine"] = engine
    (folder / "mlmon.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000, 100_000_000])
    parser.add_argument("--spark", type=int, nargs="*", default=[], help="window rows to run on Spark local[2]")
    parser.add_argument("--notebooks", default="data_drift,concept_drift")
    args = parser.parse_args()
    base = HERE / "data" / "scale"
    reference = HERE / "data" / "summary" / "reference"
    reference.mkdir(parents=True, exist_ok=True)
    build_project(reference, 1_000_000)
    if not list((reference / "reports").glob("bench/1/baseline/*/baseline.json")):
        res = measure([str(MLMON), "baseline", "-p", "mlmon.yaml", "-m", "bench", "-v", "1"],
                      reference / "baseline.log", cwd=reference)
        print("baseline", res, flush=True)
    window = f"{WINDOW[0].date()}/{WINDOW[1].date()}"
    print(f"machine: {machine()}", flush=True)
    runs = [(rows, None) for rows in args.rows]
    runs += [(rows, {"spark": {"master": "local[2]"}}) for rows in args.spark]
    for rows, engine in runs:
        folder = project(base, reference, rows, engine)
        size = sum(p.stat().st_size for p in (folder / "data" / "logs").glob("*.parquet")) / 2**30
        log = folder / "run.log"
        res = measure([str(MLMON), "run", "-p", "mlmon.yaml", "-m", "bench", "-v", "1", "-w", window,
                       "-n", args.notebooks, "--fail-on", "never"], log, cwd=folder)
        lines = log.read_text().splitlines()
        timings = [line.strip() for line in lines if "]" in line and ("ok (" in line or "alert (" in line
                   or "warn (" in line or "error (" in line or "skipped (" in line)]
        scanned = [line.strip() for line in lines if "rows scanned" in line][-2:]
        print(f"rows {rows:,} ({size:.2f} GiB parquet) engine {'spark local[2]' if engine else 'duckdb'}: "
              f"{res}; {' | '.join(timings)}; last progress: {' | '.join(scanned)}", flush=True)


if __name__ == "__main__":
    main()
