"""Training provenance: the share of each version's training data produced under the model's influence.

It is a property of the training (reference) data, not of the window, so it
has no baseline band: it warns at 80% and alerts at 95% of rows produced under
the model's influence (``thresholds.metrics.training_provenance`` replaces
both), and warns when it rose by 10 points or more from the previous version.
Other versions' figures come from their archived baselines
(:func:`archived_provenance`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ..baseline import baseline_root, latest_baseline_id
from ..checks import worst
from ..config import Thresholds
from ..rules import decide
from .columns import as_bool
from .decision import Assessment, fixed_limits
from .reinforcement import wilson_interval
from .result import Provenance

__all__ = ["PROVENANCE_ALERT", "PROVENANCE_RISE_WARN", "PROVENANCE_WARN", "analyse_provenance",
           "archived_provenance"]

PROVENANCE_WARN = 0.80
"""Share of rows produced under the model's influence that warns."""
PROVENANCE_ALERT = 0.95
"""Share that alerts."""
PROVENANCE_RISE_WARN = 0.10
"""Rise from the previous version's share that warns."""


def analyse_provenance(reference: pd.DataFrame, column: str | None, version: str,
                       others: Mapping[str, Mapping[str, Any]], thresholds: Thresholds) -> Provenance | None:
    """This version's share (from ``column`` of the reference data) among the other versions', and its check.

    ``others`` is ``{version: {"share", "rows", "ci_low", "ci_high", "deployed", "source"}}``
    (see :func:`archived_provenance`). None when no version has anything to show.
    """
    rows = [{"version": name, "rows": info.get("rows"), "share": info.get("share"),
             "ci low": info.get("ci_low"), "ci high": info.get("ci_high"),
             "deployed": info.get("deployed"), "source": info.get("source", "")} for name, info in others.items()]
    share = float("nan")
    if column and column in reference.columns:
        flag = as_bool(reference[column]).dropna()
        if len(flag):
            k, n = int(flag.sum()), int(len(flag))
            share = k / n
            lo, hi = wilson_interval(k, n)
            mine = {"version": version, "rows": n, "share": share, "ci low": lo, "ci high": hi,
                    "deployed": next((r["deployed"] for r in rows if r["version"] == version), None),
                    "source": "reference data of this run"}
            rows = [r for r in rows if r["version"] != version] + [mine]
    if not rows:
        return None
    df = pd.DataFrame(rows)
    df["_order"] = pd.to_datetime(df["deployed"], errors="coerce")
    df = df.sort_values(["_order", "version"], na_position="first", kind="stable").drop(columns="_order")
    table = df.reset_index(drop=True)
    if not math.isfinite(share):
        return Provenance(versions=table, warn_at=PROVENANCE_WARN, alert_at=PROVENANCE_ALERT)
    known = df[df["share"].notna()].reset_index(drop=True)
    pos = known.index[known["version"] == version]
    previous = float(known.loc[pos[0] - 1, "share"]) if len(pos) and pos[0] > 0 else None
    fixed = fixed_limits(thresholds, "training_provenance") or {}
    warn_at = float(fixed.get("warn", PROVENANCE_WARN))
    alert_at = float(fixed.get("alert", PROVENANCE_ALERT))
    status = decide(share, warn_at, alert_at, worse="up")
    rule = f"fixed limits: warn at {warn_at:.0%}, alert at {alert_at:.0%} of rows"
    if previous is not None:
        rule += f"; warn when {PROVENANCE_RISE_WARN:.0%} points above the previous version"
        status = worst([status, decide(share - previous, PROVENANCE_RISE_WARN, None, worse="up")])
    check = Assessment(subject="training_provenance", value=share, status=status, method="share", rule=rule,
                       baseline_mean=previous, warn_limit=warn_at, alert_limit=alert_at)
    return Provenance(versions=table, check=check, warn_at=warn_at, alert_at=alert_at)


def archived_provenance(ctx) -> dict[str, dict[str, Any]]:
    """Training provenance of the model's other versions, from their archived baselines.

    Parameters
    ----------
    ctx : WindowContext
        From :func:`mlmon_nb.open_window`.

    Returns
    -------
    dict
        ``{version: {"deployed", "share", "rows", "source"}}``: a version whose
        newest baseline was fitted on the same reference data (same
        fingerprint) shares this run's figure; other versions are listed
        without a figure. This version's entry holds only ``deployed``.
    """
    out: dict[str, dict[str, Any]] = {}
    fb = ctx.model.feedback
    col = fb.training_provenance if fb else None
    share = float("nan")
    lo = hi = float("nan")
    n = 0
    if col and col in ctx.reference.frame.columns:
        flag = as_bool(ctx.reference.frame[col]).dropna()
        n = int(len(flag))
        if n:
            share = float(flag.mean())
            lo, hi = wilson_interval(int(flag.sum()), n)
    for name, vcfg in ctx.model.versions.items():
        deployed = vcfg.deployed.isoformat() if vcfg.deployed else None
        if name == ctx.version.name:
            out[name] = {"deployed": deployed}
            continue
        entry: dict[str, Any] = {"deployed": deployed, "share": None, "rows": None,
                                 "source": "no archived baseline"}
        bid = latest_baseline_id(ctx.project, ctx.model.name, name)
        if bid:
            path = baseline_root(ctx.project, ctx.model.name, name) / bid / "baseline.json"
            try:
                manifest = json.loads(Path(path).read_text())
            except (OSError, ValueError):
                manifest = {}
            if (manifest.get("reference") or {}).get("fingerprint") == ctx.reference.fingerprint and n:
                entry.update(share=share, rows=n, ci_low=lo, ci_high=hi,
                             source=f"baseline {bid}: same reference data")
            else:
                entry["source"] = f"baseline {bid}: other reference data, no provenance figure"
        out[name] = entry
    return out
