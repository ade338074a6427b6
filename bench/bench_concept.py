"""Concept-drift notebook: wall time, detection delay and false alarms, estimation error (issue 5).

Three parts, each optional (all by default):

``--part time``
    Wall time and peak RSS of ``mlmon run -n concept_drift`` on the demo's preference-flip week
    (week 8, ~5k rows at scale 0.25) and on a 1M-row copy of that week: every row of the week
    repeated 200 times with its timestamp jittered by up to ±30 minutes (so the flip stays at
    2026-10-28T12:00Z), new request ids, labels joined late by key as in the demo. Data under
    ``--work`` (default /tmp/mlmon-bench-concept), never in the repository.
``--part streams``
    Synthetic streams from river's generators with the inputs' distribution unchanged: SEA
    (threshold 8 → 7 and 8 → 9.5) and Agrawal (function 0 → 2), the switch at row 4,000 of
    8,000 (two minutes apart), against the same streams without a switch; and SEA with
    *covariate shift only* (rows with x1 + x2 > 10 kept three times as often, concept unchanged).
    ``--seeds`` repetitions each, analysed in-process with :func:`mlmon_nb.concept.analyse_frames`.
``--part peers``
    The same streams and the demo's weeks 1-9 through NannyML (``bench/.peers/venv``, created by
    ``bench/peers/setup.sh``; never a project dependency): CBPE's estimated ROC AUC on each whole
    window (estimation error against realized, next to ours), and NannyML's realized-performance
    calculator on 500-row chunks with its default 3-sd thresholds from reference chunks
    (detection delay and false alarms, next to our change points).

    .venv/bin/python bench/bench_concept.py --part all --seeds 10
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import MLMON, ROOT, machine, run_measured

PEER_PYTHON = ROOT / "bench" / ".peers" / "venv" / "bin" / "python"
FLIP_AT = pd.Timestamp("2026-10-28T12:00", tz="UTC")
WEEK8 = "2026-10-26/2026-11-02"
SWITCH, ROWS = 4000, 8000


# --------------------------------------------------------------------------- part 1: wall time

DEMO: Path | None = None


def demo_project(work: Path) -> Path:
    """A demo project (scale 0.25) with its baseline archived: ``--demo`` or built once under ``work``."""
    if DEMO is not None:
        return DEMO
    root = work / "demo"
    if (root / "mlmon.yaml").exists() and (root / "reports").exists():
        return root / "mlmon.yaml"
    from mlmon_nb.demo import build_demo
    from mlmon_nb.runner import execute_baseline, prepare_baseline

    shutil.rmtree(root, ignore_errors=True)
    project = build_demo(root, scale=0.25, weeks=10, seed=0)
    execute_baseline(prepare_baseline(project.project_path, project.model, project.version))
    return root / "mlmon.yaml"


def big_project(demo: Path, work: Path, repeat: int = 200) -> Path:
    """The demo's week 8 repeated ``repeat`` times (timestamps jittered ±30 min), same baseline."""
    import duckdb

    root = work / "big"
    if (root / "mlmon.yaml").exists():
        return root / "mlmon.yaml"
    shutil.rmtree(root, ignore_errors=True)
    src = demo.parent
    (root / "data" / "logs").mkdir(parents=True)
    (root / "data" / "labels").mkdir(parents=True)
    con = duckdb.connect()
    logs = con.sql(f"SELECT * EXCLUDE (day) FROM read_parquet('{src}/data/logs/**/*.parquet', hive_partitioning=true) "
                   f"WHERE ts >= '2026-10-26' AND ts < '2026-11-02'").df()
    labels = con.sql(f"SELECT * FROM read_parquet('{src}/data/labels/*.parquet')").df()
    rng = np.random.default_rng(0)
    parts, lab_parts = [], []
    start, end = pd.Timestamp("2026-10-26", tz="UTC"), pd.Timestamp("2026-11-02", tz="UTC")
    lab = labels.set_index("request_id")
    for k in range(repeat):
        part = logs.copy()
        jitter = pd.to_timedelta(rng.uniform(-1800, 1800, len(part)), unit="s")
        part["ts"] = (part["ts"] + jitter).clip(start, end - pd.Timedelta(seconds=1))
        old = part["request_id"]
        part["request_id"] = old + f"-{k}"
        parts.append(part)
        hit = lab.reindex(old)
        ok = hit["clicked"].notna().to_numpy()
        lab_parts.append(pd.DataFrame({"request_id": part["request_id"][ok].to_numpy(),
                                       "clicked": hit["clicked"][ok].astype("int64").to_numpy(),
                                       "labelled_at": hit["labelled_at"][ok].to_numpy()}))
    big = pd.concat(parts, ignore_index=True).sort_values("ts", kind="stable")
    for day, g in big.groupby(big["ts"].dt.strftime("%Y-%m-%d")):
        (root / "data" / "logs" / f"day={day}").mkdir()
        g.to_parquet(root / "data" / "logs" / f"day={day}" / "part-0.parquet", row_group_size=50_000, index=False)
    pd.concat(lab_parts, ignore_index=True).to_parquet(root / "data" / "labels" / "part-0.parquet", index=False)
    shutil.copy(src / "data" / "reference.parquet", root / "data" / "reference.parquet")
    shutil.copytree(src / "models", root / "models")
    shutil.copytree(src / "reports" / "ctr-ranker" / "2" / "baseline", root / "reports" / "ctr-ranker" / "2" / "baseline")
    shutil.copy(src / "mlmon.yaml", root / "mlmon.yaml")
    return root / "mlmon.yaml"


def run_notebook(project: Path, window: str) -> dict:
    r = run_measured([MLMON, "run", "-p", str(project), "-m", "ctr-ranker", "-v", "2", "-w", window,
                      "-n", "concept_drift", "--fail-on", "never"])
    run_dir = Path(r["stdout"].strip().splitlines()[-1]) if r["stdout"].strip() else None
    summary = json.loads((run_dir / "summary.json").read_text()) if run_dir and run_dir.exists() else {}
    nb = summary.get("notebooks", {}).get("concept_drift", {})
    points = [c for c in summary.get("checks", []) if c["kind"] == "change_point" and c["status"] == "alert"]
    return {"seconds": r["seconds"], "peak_mib": r["peak_mib"], "code": r["code"], "status": nb.get("status"),
            "rows": summary.get("data", {}).get("current_rows"), "labelled": summary.get("data", {}).get("labelled_rows"),
            "change_points": sorted({c["at"] for c in points}), "stderr": r["stderr"][-400:]}


def part_time(work: Path) -> dict:
    demo = demo_project(work)
    out = {"demo": run_notebook(demo, WEEK8)}
    t0 = time.perf_counter()
    big = big_project(demo, work)
    out["big_build_seconds"] = time.perf_counter() - t0
    out["big"] = run_notebook(big, WEEK8)
    return out


# --------------------------------------------------------------------------- part 2: synthetic streams

def _river_frame(gen, n: int) -> pd.DataFrame:
    rows = list(gen.take(n))
    frame = pd.DataFrame([dict(x) for x, _ in rows])
    frame.columns = [f"x{c + 1}" if isinstance(c, int) else str(c) for c in frame.columns]
    frame["y"] = [float(y) for _, y in rows]
    return frame


def scenario(name: str, seed: int):
    """(reference, window, feature columns, switch row or None) of one synthetic scenario."""
    from river.datasets import synth

    if name.startswith("sea"):
        after = {"sea_8_to_7": 2, "sea_8_to_9.5": 3, "sea_none": 0, "sea_covariate": 0}[name]
        gen = lambda variant, s: synth.SEA(variant=variant, noise=0.1, seed=s)  # noqa: E731
        feats = ["x1", "x2", "x3"]
    else:
        after = {"agrawal_0_to_2": 2, "agrawal_none": 0}[name]
        gen = lambda fn, s: synth.Agrawal(classification_function=fn, perturbation=0.05, seed=s)  # noqa: E731
        feats = None
    train = _river_frame(gen(0, 1000 + seed), 5000)
    ref = _river_frame(gen(0, 2000 + seed), 20_000)
    if name == "sea_covariate":
        pool = _river_frame(gen(0, 3000 + seed), 3 * ROWS)
        rng = np.random.default_rng(seed)
        keep = rng.random(len(pool)) < np.where(pool["x1"] + pool["x2"] > 10, 0.9, 0.3)
        win = pool[keep].head(ROWS).reset_index(drop=True)
    else:
        win = pd.concat([_river_frame(gen(0, 3000 + seed), SWITCH), _river_frame(gen(after, 4000 + seed), ROWS - SWITCH)],
                        ignore_index=True)
    feats = feats or [c for c in ref.columns if c != "y"]
    model = _model(train, feats)
    for f in (ref, win):
        f["__prediction__"] = model.predict_proba(f[feats])[:, 1]
    win["ts"] = pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(np.arange(len(win)) * 2, unit="min")
    switch = SWITCH if after != 0 else None
    return ref, win, feats, switch


def _model(train: pd.DataFrame, feats):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(train[feats], train["y"])


SCENARIOS = ("sea_8_to_7", "sea_8_to_9.5", "agrawal_0_to_2", "sea_none", "agrawal_none", "sea_covariate")


def part_streams(seeds: int, work: Path) -> pd.DataFrame:
    from mlmon_nb import concept
    from mlmon_nb.config import FeaturesConfig

    rows = []
    data = work / "streams"
    data.mkdir(parents=True, exist_ok=True)
    for name in SCENARIOS:
        for seed in range(seeds):
            ref, win, feats, switch = scenario(name, seed)
            ref.to_parquet(data / f"{name}-{seed}-ref.parquet")
            win.to_parquet(data / f"{name}-{seed}-win.parquet")
            spec = concept.ModelSpec(task="binary_classification", target="y", timestamp="ts", threshold=0.5,
                                     features=FeaturesConfig(numeric=tuple(feats)))
            t0 = time.perf_counter()
            res = concept.analyse_frames(spec, ref, win, seed=seed)
            seconds = time.perf_counter() - t0
            alerts = [c for c in res.change_checks() if c["status"] == "alert"]
            t_switch = win["ts"].iloc[switch] if switch else None
            first = min(alerts, key=lambda c: c["detected_at"]) if alerts else None
            concept_alert = any(c["status"] == "alert" for c in res.concept_checks() if c["subject"] != "p(y|x)")
            w = res.chunks.window("roc_auc")
            rows.append({
                "scenario": name, "seed": seed, "seconds": seconds, "switch": switch is not None,
                "detected": first is not None, "concept_drift_alert": concept_alert,
                "delay_rows": ((pd.Timestamp(first["detected_at"]) - t_switch) / pd.Timedelta("2min"))
                if first is not None and switch else np.nan,
                "onset_error_rows": ((pd.Timestamp(first["at"]) - t_switch) / pd.Timedelta("2min"))
                if first is not None and switch else np.nan,
                "realized_auc": w["realized"], "estimated_auc": w["estimated"],
            })
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- part 3: NannyML on the same data

PEER_SCRIPT = r'''
import json, sys, warnings
import numpy as np, pandas as pd, nannyml as nml
from sklearn.metrics import roc_auc_score
warnings.filterwarnings("ignore")
out = []
for ref_path, win_path, thr, chunk, switch in json.loads(sys.argv[1]):
    ref, win = pd.read_parquet(ref_path), pd.read_parquet(win_path)
    for f in (ref, win):
        f["y_pred"] = (f["__prediction__"] >= thr).astype(int)
    ref = ref[ref["y"].notna()]
    lab = win[win["y"].notna()]
    kw = dict(y_pred_proba="__prediction__", y_pred="y_pred", y_true="y", problem_type="classification_binary")
    est = nml.CBPE(metrics=["roc_auc"], chunk_number=1, **kw).fit(ref)
    e = est.estimate(win.drop(columns=["y"]))
    estimated = float(e.filter(period="analysis").to_df()[("roc_auc", "value")].iloc[0])
    calc = nml.PerformanceCalculator(metrics=["roc_auc"], chunk_size=chunk, **kw).fit(ref)
    r = calc.calculate(lab).filter(period="analysis").to_df()
    alerts = r[("roc_auc", "alert")].to_numpy(dtype=bool)
    starts = r[("chunk", "start_index")].to_numpy()
    ends = r[("chunk", "end_index")].to_numpy()
    after = [int(e_) - switch for a, s_, e_ in zip(alerts, starts, ends) if a and switch is not None and e_ >= switch]
    before = [int(s_) for a, s_, e_ in zip(alerts, starts, ends) if a and (switch is None or e_ < switch)]
    out.append({"window": win_path, "estimated_auc": estimated, "realized_auc": float(roc_auc_score(lab["y"], lab["__prediction__"])),
                "detected": bool(after), "delay_rows": min(after) if after else None,
                "false_alarm_chunks": len(before), "chunks": int(len(alerts))})
print(json.dumps(out))
'''


def part_peers(streams: pd.DataFrame | None, work: Path, seeds: int) -> dict:
    if not PEER_PYTHON.exists():
        return {"error": f"{PEER_PYTHON} does not exist (create it with bench/peers/setup.sh)"}
    jobs = []
    for name in SCENARIOS:
        for seed in range(seeds):
            ref, win = work / "streams" / f"{name}-{seed}-ref.parquet", work / "streams" / f"{name}-{seed}-win.parquet"
            if ref.exists():
                jobs.append([str(ref), str(win), 0.5, 500, SWITCH if not name.endswith(("none", "covariate")) else None])
    demo_jobs = _demo_frames(work)
    jobs += demo_jobs
    (work / "peer_script.py").write_text(PEER_SCRIPT)
    t0 = time.perf_counter()
    env = {**__import__("os").environ, "NML_DISABLE_USAGE_LOGGING": "1"}  # no network here
    proc = subprocess.run([str(PEER_PYTHON), str(work / "peer_script.py"), json.dumps(jobs)], capture_output=True,
                          text=True, env=env)
    if proc.returncode:
        return {"error": proc.stderr[-2000:]}
    res = pd.DataFrame(json.loads(proc.stdout.strip().splitlines()[-1]))
    res["scenario"] = res["window"].map(lambda w: Path(w).stem.rsplit("-", 2)[0] if "streams" in w else "demo")
    ours = streams if streams is not None else (pd.read_csv(work / "streams.csv") if (work / "streams.csv").exists()
                                                else None)
    summary = res[res["scenario"] != "demo"].groupby("scenario").agg(
        nml_detected=("detected", "mean"), nml_median_delay_rows=("delay_rows", "median"),
        nml_false_alarm_streams=("false_alarm_chunks", lambda s: float(np.mean(s > 0))),
        nml_cbpe_auc_abs_error=("estimated_auc", lambda s: float(np.mean(np.abs(s - res.loc[s.index, "realized_auc"])))))
    if ours is not None:
        o = ours.groupby("scenario").agg(
            ours_detected=("detected", "mean"), ours_median_delay_rows=("delay_rows", "median"),
            ours_false_alarm_streams=("detected", lambda s: float(np.mean(s[~ours.loc[s.index, "switch"]]))
                                      if (~ours.loc[s.index, "switch"]).any() else float("nan")),
            ours_cbpe_auc_abs_error=("estimated_auc",
                                     lambda s: float(np.mean(np.abs(s - ours.loc[s.index, "realized_auc"])))))
        summary = o.join(summary)
    demo = res[res["scenario"] == "demo"].reset_index(drop=True)
    ours_demo = pd.DataFrame(json.loads((work / "demo_ours.json").read_text()))
    demo = pd.DataFrame({"week": ours_demo["week"], "realized_auc": demo["realized_auc"],
                         "ours_estimated_auc": ours_demo["estimated_auc"], "nml_estimated_auc": demo["estimated_auc"]})
    print(summary.to_string(), "\n", demo.to_string(), flush=True)
    return {"seconds": time.perf_counter() - t0, "summary": summary.reset_index().to_dict("records"),
            "demo": demo.to_dict("records"), "results": res.to_dict("records"),
            "nannyml": subprocess.run([str(PEER_PYTHON), "-c", "import nannyml; print(nannyml.__version__)"],
                                      capture_output=True, text=True, env=env).stdout.strip()}


def _demo_frames(work: Path) -> list:
    """The demo's weeks 1-9 as (reference sample, window) parquet pairs, plus our estimate on each."""
    import mlmon_nb as mn
    from mlmon_nb import concept

    demo = demo_project(work)
    jobs = []
    ours = []
    folder = work / "demo_frames"
    folder.mkdir(exist_ok=True)
    gt = json.loads((demo.parent / "ground_truth.json").read_text())
    for k, (a, b) in enumerate(gt["windows"][:9], 1):
        win = f"{a[:10]}/{b[:10]}"
        ctx = mn.open_window(demo, "ctr-ranker", "2", win, notebook="bench", load_estimator=False)
        ref = ctx.baseline.sample.rename(columns={"clicked": "y"})[["y", "__prediction__"]]
        frame = pd.DataFrame({"y": pd.to_numeric(ctx.frame["clicked"], errors="coerce").astype(float),
                              "__prediction__": ctx.frame["score"].to_numpy(dtype=float)})
        ref.to_parquet(folder / "ref.parquet")
        frame.to_parquet(folder / f"week{k}.parquet")
        blind = mn.open_window(demo, "ctr-ranker", "2", win, notebook="bench", load_estimator=False, labels=False)
        res = concept.analyse(blind)
        ours.append({"week": k, "estimated_auc": res.chunks.window("roc_auc")["estimated"]})
        jobs.append([str(folder / "ref.parquet"), str(folder / f"week{k}.parquet"), 0.1, 500, None])
    (work / "demo_ours.json").write_text(json.dumps(ours))
    return jobs


# --------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=["time", "streams", "peers", "all"], default="all")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--work", default="/tmp/mlmon-bench-concept")
    ap.add_argument("--demo", help="an already built demo project's mlmon.yaml (scale 0.25, baseline archived)")
    args = ap.parse_args()
    global DEMO
    DEMO = Path(args.demo).resolve() if args.demo else None
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    if args.part in ("time", "all"):
        report["time"] = part_time(work)
        print(json.dumps(report["time"], indent=1, default=str), flush=True)
    streams = None
    if args.part in ("streams", "all"):
        streams = part_streams(args.seeds, work)
        streams.to_csv(work / "streams.csv", index=False)
        summary = streams.groupby("scenario").agg(
            runs=("seed", "size"), detected=("detected", "mean"), concept_alert=("concept_drift_alert", "mean"),
            median_delay_rows=("delay_rows", "median"), median_onset_error_rows=("onset_error_rows", "median"),
            auc_abs_error=("estimated_auc", lambda s: float(np.mean(np.abs(s - streams.loc[s.index, "realized_auc"])))),
            seconds=("seconds", "median"))
        report["streams"] = summary.reset_index().to_dict("records")
        print(summary.to_string(), flush=True)
    if args.part in ("peers", "all"):
        report["peers"] = part_peers(streams, work, args.seeds)
        print(json.dumps(report["peers"], indent=1, default=str)[:4000], flush=True)
    out = work / f"report-{args.part}.json"
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"written {out}")


if __name__ == "__main__":
    sys.exit(main())
