"""Tables of the concept-drift notebook: plain DataFrames with display names, from the results.

Each function reads a result (duck-typed: :class:`~.per_chunk.ChunkPerformance`,
:class:`~.changes.ChangePoints`, :class:`~.expected.ConceptTest`,
:class:`~.residuals.ResidualShift`, :class:`~.segments.SegmentResult`) and
returns a new DataFrame; none changes its input.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..display import format_table
from .spec import DISPLAY

__all__ = ["summary_table", "coverage_table", "estimation_table", "changes_table", "detectors_table",
           "concept_table", "residuals_table", "segments_table", "ci_text", "table_html", "when"]


def ci_text(lo: float, hi: float) -> str:
    """``[lo, hi]`` with three decimals; empty when either end is not finite.

    Examples
    --------
    >>> ci_text(0.61, 0.6789), ci_text(float("nan"), 1.0)
    ('[0.610, 0.679]', '')
    """
    return f"[{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) and np.isfinite(hi) else ""


def when(t: pd.Timestamp) -> str:
    """A moment as the report writes it: ``2026-10-28 12:00 UTC``."""
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


def table_html(df: pd.DataFrame) -> str:
    """A table as escaped HTML, or ``(none)``."""
    return format_table(df) if len(df) else "<p>(none)</p>"


def chunk_labels(starts: Sequence) -> list[str]:
    """Chunk starts as ``Mon 26 Oct`` (with the time when a chunk starts inside a day)."""
    ts = [pd.Timestamp(t).tz_convert("UTC") for t in starts]
    fmt = "%a %d %b" if all(t.hour == 0 and t.minute == 0 for t in ts) else "%a %d %b %H:%M"
    return [t.strftime(fmt) for t in ts]


def summary_table(chunks) -> pd.DataFrame:
    """The window row of every metric: realized with its interval, estimated, expected range, band."""
    t = chunks.table[chunks.table["chunk"] == "window"]
    return pd.DataFrame({
        "metric": t["metric"].map(DISPLAY), "realized": t["realized"],
        "95% CI": [ci_text(a, b) for a, b in zip(t["ci_low"], t["ci_high"])],
        "estimated (all rows)": t["estimated"],
        "expected range of realized": [ci_text(e - 1.96 * s, e + 1.96 * s)
                                       for e, s in zip(t["expected"], t["null_sd"])],
        "baseline band": [ci_text(a, b) if np.isfinite(a) else ci_text(c, d) for a, b, c, d in
                          zip(t["band_low"], t["band_high"], t["est_band_low"], t["est_band_high"])],
        "labelled rows": t["labelled"],
    })


def coverage_table(chunks, task: str) -> pd.DataFrame:
    """Per chunk: rows, labelled rows, coverage and whether its realized figures are judged."""
    ch = chunks.chunks()
    return pd.DataFrame({"chunk (UTC)": chunk_labels(ch["start"]), "rows": ch["rows"],
                         "labelled": ch["labelled"], "coverage": ch["coverage"],
                         **({"positives": ch["positives"]} if task == "binary_classification" else {}),
                         "judged": ch["enough_labels"].map({True: "yes", False: "no: too few labels"})})


def estimation_table(chunks, metric: str) -> pd.DataFrame:
    """Per chunk: estimated (all rows) next to realized (labelled rows) and their difference."""
    ch = chunks.chunks(metric)
    return pd.DataFrame({
        "chunk (UTC)": chunk_labels(ch["start"]), "rows": ch["rows"], "labelled": ch["labelled"],
        f"estimated {DISPLAY[metric]}": ch["estimated"], f"realized {DISPLAY[metric]}": ch["realized"],
        "realized − estimated": ch["realized"] - ch["expected"],
        "expected range of realized": [ci_text(e - 1.96 * sd, e + 1.96 * sd) if n else ""
                                       for e, sd, n in zip(ch["expected"], ch["null_sd"], ch["labelled"])],
    })


def changes_table(changes) -> pd.DataFrame:
    """One row per detection, worst first, then by onset: status, detector, onset, detection, delay, agreement.

    Short headers and times without the year, so seven columns fit the report's width;
    the column saying an onset is the window's start is there only when one is.
    """
    if changes is None or changes.detections.empty:
        return pd.DataFrame()
    d = changes.detections
    rank = d["status"].map({"alert": 0, "warn": 1}).fillna(2)
    d = d.assign(_rank=rank).sort_values(["_rank", "at"], kind="stable")
    out = pd.DataFrame({"status": d["status"], "detector": d["method"],
                        "onset (UTC)": [_short_when(t) for t in d["at"]],
                        "detected (UTC)": [_short_when(t) for t in d["detected_at"]],
                        "delay (hours)": d["delay_hours"].round(1),
                        "another detector agrees": d["consensus"].map({True: "yes", False: "no"})})
    if d["at_window_start"].any():
        out["onset = window start"] = d["at_window_start"].map({True: "yes", False: ""})
    return out.reset_index(drop=True)


def _short_when(t: pd.Timestamp) -> str:
    """``Wed 28 Oct 11:31``: a moment inside a window (the year and 'UTC' are in the header)."""
    return pd.Timestamp(t).tz_convert("UTC").strftime("%a %d %b %H:%M")


def detectors_table(changes) -> pd.DataFrame:
    """Each detector's calibrated setting and its false-alarm rate on reference streams."""
    if changes is None:
        return pd.DataFrame()
    return changes.calibration_df()


def concept_table(tests) -> pd.DataFrame:
    """Realized against expected from the inputs, per metric, for each scope tested."""
    rows = []
    for test in tests:
        if test is None:
            continue
        t = test.table
        rows.append(pd.DataFrame({"metric": t["metric"].map(DISPLAY), "rows tested": t["scope"],
                                  "labelled rows": t["rows"], "realized": t["realized"],
                                  "expected from inputs": t["expected"], "realized − expected": t["gap"],
                                  "sd": t["sd"], "z": t["z"], "status": t["status"]}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def residuals_table(residuals) -> pd.DataFrame:
    """One row per feature: chi-square of the residual shift, adjusted p, largest shift, status."""
    if residuals is None or residuals.table.empty:
        return pd.DataFrame()
    t = residuals.table
    return pd.DataFrame({"feature": t["feature"].replace({"__score_bin__": "(model score deciles)"}),
                         "bins": t["bins"], "chi-square": t["chi2"], "p (BH-adjusted)": t["p_adjusted"],
                         "largest shift in": t["worst_bin"], "shift (window − reference)": t["shift"],
                         "shift (residual sd)": t["effect"], "status": t["status"]})


def segments_table(segments, top: int = 15) -> pd.DataFrame:
    """The ``top`` segments by lost performance × share, with their intervals."""
    if segments is None or segments.table.empty:
        return pd.DataFrame()
    t = segments.table.head(top)
    out = pd.DataFrame({"segment": t["segment"], "rows": t["rows"], "share": t["share"]})
    if "observed" in t.columns:
        out["observed rate"] = t["observed"]
        out["rate from scores"] = t["expected"]
    out["lost"] = t["lost"]
    out["lost 95% CI"] = [ci_text(a, b) for a, b in zip(t["lost_low"], t["lost_high"])]
    out["lost × share"] = t["contribution"]
    out["significant"] = (t["contribution_low"] > 0).map({True: "yes", False: "no"})
    return out
