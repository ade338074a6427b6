"""Data drift at 100k and 1M rows: mlmon-nb against Evidently and NannyML, side by side in one run.

For each size the same parquet files (reference and one week of logs, 25 features, drift planted
in known features) are analysed by:

- **mlmon-nb**: ``mlmon run -n data_drift`` as a subprocess, from its start to the archived HTML
  (the baseline is fitted once beforehand with ``mlmon baseline``, as in production, and timed
  separately);
- **Evidently**: ``bench/peers/run_evidently.py`` (import, read, DataDriftPreset report, save_html);
- **NannyML**: ``bench/peers/run_nannyml.py`` (import, read, univariate drift + data
  reconstruction with daily chunks, plots saved as one HTML file).

Each tool runs alone (never concurrently); wall time is measured around the subprocess, peak
memory is the largest sum of RSS, and of PSS, over the process and its children (sampled every
50 ms; see ``measure``). The
peers run in ``bench/.peers/venv`` (``bash bench/peers/setup.sh``), never in the project's.

Usage::

    .venv/bin/python bench/bench_data_drift.py                 # 100k and 1M rows
    .venv/bin/python bench/bench_data_drift.py --sizes 100000 --skip nannyml
    .venv/bin/python bench/bench_data_drift.py --sizes 1000000 --skip nannyml --repeat 3

Data, projects and outputs go to ``bench/data/`` (git-ignored); the results as JSON to
``bench/data/results-<UTC time>.json`` and as a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MLMON = Path(sys.executable).parent / "mlmon"
PEERS_PYTHON = HERE / ".peers" / "venv" / "bin" / "python"

N_NUMERIC, N_CATEGORICAL = 17, 8
REFERENCE_START = pd.Timestamp("2026-01-05", tz="UTC")
WINDOW = (pd.Timestamp("2026-02-02", tz="UTC"), pd.Timestamp("2026-02-09", tz="UTC"))
#: Planted drift: every tool should flag exactly these.
PLANTED = {
    "f02": "mean +0.3 sd (normal)",
    "f05": "values x1.25 (log-normal)",
    "f09": "mean 10 -> 11.5 (Poisson counts)",
    "c01": "shares 50/30/20% -> 35/35/30%",
    "c04": "a new level in 8% of rows",
}
#: A shift too small to matter (large samples make it significant): not drift in the ground truth.
NEGLIGIBLE = {"f12": "mean +0.02 sd (normal)"}


# --------------------------------------------------------------------------- data

def features(rng: np.random.Generator, n: int, drifted: bool) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    for j in range(N_NUMERIC):
        kind = j % 4
        if kind == 0:
            x = rng.normal(50 + j, 10, n)
        elif kind == 1:
            x = rng.lognormal(3, 0.6, n)
        elif kind == 2:
            x = rng.poisson(10, n).astype(float)
        else:
            x = np.round(rng.gamma(2.0, 20.0, n), 1)
        cols[f"f{j:02d}"] = x
    for j in range(N_CATEGORICAL):
        k = (3, 3, 5, 8, 4, 12, 30, 2)[j]
        p = np.random.default_rng(100 + j).dirichlet(np.ones(k) * 3)
        if j == 1:
            p = np.array([0.5, 0.3, 0.2])
        if drifted and j == 1:
            p = np.array([0.35, 0.35, 0.3])
        codes = rng.choice(k, n, p=p)
        levels = np.array([f"{chr(97 + j)}{i}" for i in range(k)] + ["new"], dtype=object)
        if drifted and j == 4:
            codes = np.where(rng.random(n) < 0.08, k, codes)
        cols[f"c{j:02d}"] = levels[codes]
    if drifted:
        cols["f02"] = cols["f02"] + 0.3 * 10
        cols["f05"] = cols["f05"] * 1.25
        cols["f09"] = rng.poisson(11.5, n).astype(float)
        cols["f12"] = cols["f12"] + 0.02 * 10
    return cols


def timestamps(rng: np.random.Generator, n: int, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    seconds = np.sort(rng.uniform(0, (end - start).total_seconds(), n))
    return start + pd.to_timedelta(seconds, unit="s")


def build_project(folder: Path, n: int, seed: int = 0) -> dict:
    """Write reference.parquet, logs.parquet, a model and mlmon.yaml; return the spec."""
    import joblib
    import yaml
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f"f{j:02d}" for j in range(N_NUMERIC)]
    categorical = [f"c{j:02d}" for j in range(N_CATEGORICAL)]
    spec = {"rows": n, "numeric": numeric, "categorical": categorical, "timestamp": "ts",
            "planted": PLANTED, "negligible": NEGLIGIBLE}
    if (folder / "spec.json").is_file():
        return json.loads((folder / "spec.json").read_text())
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "models").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame(features(rng, n, drifted=False))
    ref.insert(0, "ts", timestamps(rng, n, REFERENCE_START, WINDOW[0]))
    cur = pd.DataFrame(features(rng, n, drifted=True))
    cur.insert(0, "ts", timestamps(rng, n, *WINDOW))
    logit = -2.0 + 0.04 * (ref["f00"] - 50) - 0.02 * (ref["f02"] - 52) + 0.5 * (ref["c01"] == "b0")
    ref["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = Pipeline([
        ("pre", ColumnTransformer([("num", StandardScaler(), numeric),
                                   ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)])),
        ("clf", LogisticRegression(max_iter=500)),
    ]).fit(ref.iloc[: min(n, 50_000)][numeric + categorical], ref["y"].iloc[: min(n, 50_000)])
    joblib.dump(model, folder / "models" / "1.joblib")
    for frame in (ref, cur):
        frame["score"] = model.predict_proba(frame[numeric + categorical])[:, 1]
    cur["model_version"] = "1"
    ref.to_parquet(folder / "data" / "reference.parquet", index=False, row_group_size=100_000)
    cur.to_parquet(folder / "data" / "logs.parquet", index=False, row_group_size=100_000)
    config = {"archive": "reports", "models": {"bench": {
        "task": "binary_classification", "timestamp": "ts", "prediction": "score", "target": "y",
        "features": {"numeric": numeric, "categorical": categorical},
        "reference": "data/reference.parquet", "logs": "data/logs.parquet",
        "versions": {"1": {"model": "models/1.joblib", "trusted": True}},
    }}}
    (folder / "mlmon.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (folder / "spec.json").write_text(json.dumps(spec, indent=1))
    return spec


# --------------------------------------------------------------------------- measuring

def measure(cmd: list[str], log: Path, cwd: Path | None = None) -> dict:
    """Run a command; wall seconds and the peak memory (MB) of it and all its children, twice:

    - ``peak_mb``: the largest sum of RSS (as every earlier run of this benchmark). Pages that
      forked processes share (mlmon's kernel and its figure workers, forked from it) count once
      per process, so the sum overstates a forking tree's memory;
    - ``peak_pss_mb``: the largest sum of PSS (proportional set size: each shared page divided among
      the processes sharing it), i.e. the physical memory the tree holds. One process: PSS = RSS
      minus its share of pages shared with others (libraries).
    """
    import psutil

    with log.open("w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        root = psutil.Process(proc.pid)
        peak = peak_pss = 0
        while proc.poll() is None:
            rss = pss = 0
            try:
                for p in (root, *root.children(recursive=True)):
                    try:
                        info = p.memory_full_info()
                    except psutil.Error:  # ended meanwhile
                        continue
                    rss += info.rss
                    pss += info.pss
            except psutil.Error:
                pass
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            time.sleep(0.05)
        wall = time.perf_counter() - t0
    return {"seconds": round(wall, 2), "peak_mb": round(peak / 2**20), "peak_pss_mb": round(peak_pss / 2**20),
            "exit_code": proc.returncode}


def score(flagged: set[str]) -> dict:
    planted = set(PLANTED)
    return {"flagged": sorted(flagged), "missed": sorted(planted - flagged), "false": sorted(flagged - planted),
            "exact": flagged == planted}


def run_ours(folder: Path, out: Path) -> dict:
    window = f"{WINDOW[0].date()}/{WINDOW[1].date()}"
    if not list((folder / "reports" / "bench" / "1" / "baseline").glob("*/baseline.json")):
        base = measure([str(MLMON), "baseline", "-p", "mlmon.yaml", "-m", "bench", "-v", "1"],
                       out / "mlmon-baseline.log", cwd=folder)
    else:
        base = {"seconds": None, "note": "baseline already archived"}
    res = measure([str(MLMON), "run", "-p", "mlmon.yaml", "-m", "bench", "-v", "1", "-w", window,
                   "-n", "data_drift", "--fail-on", "never"], out / "mlmon-run.log", cwd=folder)
    run_dir = Path((out / "mlmon-run.log").read_text().strip().splitlines()[-1])
    summary = json.loads((run_dir / "summary.json").read_text())
    checks = [c for c in summary["checks"] if c["kind"] == "feature_drift"]
    html = run_dir / "data_drift.html"
    res.update(score({c["subject"] for c in checks if c["status"] == "alert"}))
    res.update({"html_kb": round(html.stat().st_size / 1024), "warned": sorted(c["subject"] for c in checks
                                                                               if c["status"] == "warn"),
                "baseline_seconds": base["seconds"], "status": summary["status"],
                "notebook_seconds": summary["notebooks"]["data_drift"]["seconds"], "run_dir": str(run_dir)})
    return res


def run_peer(name: str, folder: Path, out: Path) -> dict:
    script = HERE / "peers" / f"run_{name}.py"
    res = measure([str(PEERS_PYTHON), str(script), str(folder / "data" / "reference.parquet"),
                   str(folder / "data" / "logs.parquet"), str(folder / "spec.json"), str(out)],
                  out / f"{name}.log")
    result_file = out / f"{name}.json"
    if res["exit_code"] != 0 or not result_file.is_file():
        res["error"] = (out / f"{name}.log").read_text()[-1500:]
        return res
    detail = json.loads(result_file.read_text())
    res.update(score(set(detail["flagged"])))
    res.update({"html_kb": round(Path(detail["html"]).stat().st_size / 1024), "phases": detail["seconds"]})
    if "reconstruction_alert" in detail:
        res["reconstruction_alert"] = detail["reconstruction_alert"]
    return res


def versions() -> dict:
    from importlib import metadata

    out = {"python": platform.python_version(), "mlmon-nb": metadata.version("mlmon-nb")}
    if PEERS_PYTHON.is_file():
        code = ("from importlib import metadata as m; import json; print(json.dumps({n: m.version(n) "
                "for n in ('evidently', 'nannyml', 'pandas', 'numpy')}))")
        proc = subprocess.run([str(PEERS_PYTHON), "-c", code], capture_output=True, text=True)
        if proc.returncode == 0:
            out["peers"] = json.loads(proc.stdout)
    return out


def table(results: list[dict]) -> str:
    lines = ["| rows | tool | wall (s, median) | every run (s) | peak RSS sum (MB) | peak PSS sum (MB) | HTML (KB) "
             "| flagged | vs planted |",
             "|---:|---|---:|---|---:|---:|---:|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['rows']:,} | {r['tool']} | failed | | | | | | {r['error'].splitlines()[-1][:80]} |")
            continue
        verdict = "exact" if r["exact"] else (f"missed {', '.join(r['missed']) or '-'}; "
                                                f"false {', '.join(r['false']) or '-'}")
        every = ", ".join(f"{s:.1f}" for s in r.get("all_seconds", [r["seconds"]]) if s is not None)
        lines.append(f"| {r['rows']:,} | {r['tool']} | {r['seconds']:.1f} | {every} | {r['peak_mb']:,} | "
                     f"{r.get('peak_pss_mb', 0):,} | "
                     f"{r['html_kb']:,} | {', '.join(r['flagged'])} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--skip", nargs="*", default=[], choices=["mlmon", "evidently", "nannyml"])
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each tool, taking turns (mlmon, peers, mlmon, ...); every run is "
                             "reported, and the table gives each tool's median wall time")
    args = parser.parse_args(argv)
    if not PEERS_PYTHON.is_file() and {"evidently", "nannyml"} - set(args.skip):
        print(f"no peer environment at {PEERS_PYTHON}: run 'bash bench/peers/setup.sh' or pass "
              f"--skip evidently nannyml", file=sys.stderr)
        return 2
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    results = []
    meta = {"started": stamp, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                          "load_before": os.getloadavg()}, "versions": versions(),
            "planted": PLANTED, "negligible": NEGLIGIBLE}
    for n in args.sizes:
        folder = args.data / f"n{n}"
        t0 = time.perf_counter()
        build_project(folder, n)
        meta[f"data_seconds_{n}"] = round(time.perf_counter() - t0, 1)
        out = args.data / f"out-{stamp}" / f"n{n}"
        out.mkdir(parents=True, exist_ok=True)
        runs: dict[str, list[dict]] = {}
        for turn in range(args.repeat):
            for tool in ("mlmon", "evidently", "nannyml"):
                if tool in args.skip:
                    continue
                load = os.getloadavg()[0]
                res = run_ours(folder, out) if tool == "mlmon" else run_peer(tool, folder, out)
                res.update({"rows": n, "tool": tool, "turn": turn + 1, "load_1min_before": round(load, 2)})
                runs.setdefault(tool, []).append(res)
                print(json.dumps(res), flush=True)
        for tool, done in runs.items():  # the run of median wall time stands for the tool
            ok = sorted((r for r in done if "error" not in r), key=lambda r: r["seconds"]) or done
            best = dict(ok[(len(ok) - 1) // 2])
            best["all_seconds"] = [r.get("seconds") for r in done]
            results.append(best)
    meta["load_after"] = os.getloadavg()
    path = args.data / f"results-{stamp}.json"
    path.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(table(results))
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
