"""Prose: the verdict sentence and the findings, read from a finished result.

Nothing here decides a status: the sentences report the checks'
statuses (:mod:`.decisions`) and the figures behind them.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..checks import SEVERITY, worst
from .binning import SCORE_COLUMN
from .spec import DISPLAY
from .tables import when

__all__ = ["verdict", "findings", "segment_words"]


def feature_name(name: str) -> str:
    """A feature as a sentence names it (the score bins as ``the model score``)."""
    return "the model score" if name == SCORE_COLUMN else name


def segment_words(ws: Mapping[str, Any]) -> str:
    """The worst segment in words: where, its share and what it lost."""
    if "observed" in ws and "expected" in ws:
        return (f"{ws['description']} ({ws['share']:.0%} of labelled rows: outcome rate {ws['observed']:.1%} "
                f"against {ws['expected']:.1%} from the scores)")
    return f"{ws['description']} ({ws['share']:.0%} of labelled rows, {ws['loss']:.3f} {ws['unit']} lost)"


def findings(r) -> list[tuple[str, str]]:
    """(text, status) of every check that is not ok, each consensus of detectors, and the worst segment."""
    out = []
    for c in r.checks():
        if c["status"] == "ok":
            continue
        if c["kind"] == "performance":
            out.append((f"realized {DISPLAY[c['subject']]} {c['value']:.3f} beyond its baseline band"
                        if SEVERITY[c["status"]] >= 2 else
                        f"realized {DISPLAY[c['subject']]} {c['value']:.3f} near the edge of its band",
                        c["status"]))
        elif c["kind"] == "estimated_performance":
            out.append((f"estimated {DISPLAY[c['subject']]} {c['value']:.3f} outside its baseline band",
                        c["status"]))
        elif c["kind"] == "concept_drift" and c["subject"] != "p(y|x)":
            scope = "" if c["scope"] == "window" else f" {c['scope']}"
            out.append((f"{DISPLAY[c['subject']]}{scope} {c['realized']:.3f} is below the {c['expected']:.3f} "
                        f"expected from the inputs (z = {c['z']:.1f})", c["status"]))
        elif c["kind"] == "concept_drift":
            out.append((f"residuals shifted along {feature_name(c['feature'])} (largest in {c['bin']})",
                        c["status"]))
    clusters = r.changes.consensus() if r.changes is not None else pd.DataFrame()
    for cl in clusters.to_dict("records") if len(clusters) else []:
        out.append((f"{cl['detectors']} agree on a change at {when(cl['at'])}",
                    r.changes.cluster_status(cl["cluster"])))
    ws = r.worst_segment()
    if ws is not None and r.status != "ok":
        out.append((f"moved most where {segment_words(ws)}", "warn"))
    return out


def verdict(r) -> str:
    """One sentence: did it get worse, since when, where, covariate shift or concept drift."""
    m = r.spec.primary
    name = DISPLAY[m]
    if r.chunks is None:
        return "Performance could not be assessed: " + (r.notes[0] if r.notes else "no usable rows")
    w = r.chunks.window(m)
    band = f"baseline {w['band_mean']:.3f}" if np.isfinite(w.get("band_mean", float("nan"))) else ""
    if r.labelled == 0 or r.concept is None:
        est = next((c for c in r.checks("estimated_performance") if c["subject"] == m), {"status": "ok"})
        state = "within" if est["status"] == "ok" else "outside"
        return (f"No labels in this window yet: estimated {name} {w['estimated']:.3f} from calibrated scores "
                f"({state} the baseline band{', ' + band if band else ''}); realized performance and concept "
                f"drift need labels.")
    tests = [t for t in (r.concept, r.after_onset) if t is not None]
    cstatus = worst(t.status() for t in tests)
    test = next(t for t in tests if t.status() == cstatus)
    t = test.table
    lead = t.iloc[0] if t.iloc[0]["status"] == cstatus else t[t["status"] == cstatus].sort_values("z").iloc[0]
    lm = lead["metric"]
    lw = r.chunks.window(lm)
    if test is r.concept:
        ci = f" [{lw['ci_low']:.3f}, {lw['ci_high']:.3f}]" if np.isfinite(lw["ci_low"]) else ""
        figure = f"{DISPLAY[lm]} {lead['realized']:.3f}{ci}"
    else:
        figure = f"{DISPLAY[lm]} {lead['realized']:.3f} {test.table['scope'].iloc[0]}"
    if cstatus == "alert":
        return _worse(r, figure, lead, lw)
    if cstatus == "warn":
        return (f"{figure} is somewhat below the {lead['expected']:.3f} expected from this window's inputs "
                f"(z = {lead['z']:.1f}): possible concept drift, not conclusive; watch the next window.")
    bad = [c for c in r.checks("performance") if c["status"] != "ok"]
    row = r.concept.row(m)
    tail = ""
    if r.residuals is not None and r.residuals.status() != "ok":
        tail = (f" Residuals did shift along {feature_name(r.residuals.flagged()[0])}, without a "
                f"measurable loss of performance.")
    if bad:
        names = ", ".join(DISPLAY[c["subject"]] for c in bad)
        return (f"{names} moved outside the baseline band, but realized performance matches what this "
                f"window's inputs lead to expect ({name} {row['realized']:.3f} vs {row['expected']:.3f} expected): "
                f"the input shift (covariate shift) explains it, not a change in P(y | x).{tail}")
    ci = f" [{w['ci_low']:.3f}, {w['ci_high']:.3f}]" if np.isfinite(w["ci_low"]) else ""
    return (f"No performance drop: {name} {row['realized']:.3f}{ci} is within the baseline band"
            f"{' (' + band + ')' if band else ''} and matches the {row['expected']:.3f} expected from the inputs; "
            f"no concept drift.{tail}")


def _worse(r, figure: str, lead: Mapping[str, Any], lw: Mapping[str, Any]) -> str:
    """The alert sentence: the drop, since when, where, and that the inputs do not explain it."""
    lband = f"baseline {lw['band_mean']:.3f}" if np.isfinite(lw.get("band_mean", float("nan"))) else ""
    parts = [f"Performance got worse: {figure} against {lead['expected']:.3f} expected from this window's "
             f"inputs" + (f" ({lband})" if lband else "")]
    onset = r.consensus_onset()
    at_start = onset is not None and bool(
        r.changes.detections.loc[r.changes.detections["at"] == onset, "at_window_start"].any())
    if at_start:
        parts.append("since before this window began (detectors date the change to its start)")
    elif onset is not None and not r.first_chunk_below:
        parts.append(f"detectors agree it started around {when(onset)}")
    elif onset is not None:
        parts.append(f"already below expectation on the first {r.chunks.unit} of the "
                     f"window, and worse again from about {when(onset)}")
    else:
        parts.append("already from the start of the window (no change point inside it)")
    ws = r.worst_segment()
    if ws is not None:
        parts.append(f"it moved most where {segment_words(ws)}")
    parts.append("the input shift does not explain it: concept drift")
    return "; ".join(parts) + "."
