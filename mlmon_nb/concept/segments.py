"""Where: segments (feature levels, quartile bins and pairs of them) ranked by lost performance × share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..expressions import parse_filter
from ..plots import concept as plots
from .binning import MIN_SEGMENT_ROWS, Binning
from .per_chunk import MIN_CLASS_ROWS
from .residuals import MIN_BIN_ROWS
from .tables import table_html

__all__ = ["SegmentResult", "find_segments", "segment_query", "MIN_SEGMENT_SHARE"]

MIN_SEGMENT_SHARE = 0.01


@dataclass(frozen=True)
class SegmentResult:
    """Segments ranked by lost performance × share (see :func:`find_segments`)."""

    table: pd.DataFrame
    unit: str
    scope: str
    suppressed: int

    def to_df(self) -> pd.DataFrame:
        return self.table.copy()

    def worst(self) -> dict[str, Any] | None:
        """The top segment whose loss is significant (lower 95% bound above 0), else None.

        ``query`` selects it with ``DataFrame.query`` (column names in
        backticks where needed).
        """
        if self.table.empty:
            return None
        sig = self.table[self.table["contribution_low"] > 0]
        if sig.empty:
            return None
        r = sig.iloc[0]
        if r["part_b"] == "":
            # A pair inside the top level or bin is the sharper answer when the rest of that level
            # holds no significant loss (contributions add up; the normal approximation of the rest
            # comes from the two intervals).
            inside = sig[(sig["part_b"] != "") & ((sig["part_a"] == r["segment"]) | (sig["part_b"] == r["segment"]))]
            se_top = (r["contribution_high"] - r["contribution"]) / 1.96
            for pair in inside.to_dict("records"):
                se_pair = (pair["contribution_high"] - pair["contribution"]) / 1.96
                rest = r["contribution"] - pair["contribution"]
                if rest - 1.96 * math.sqrt(max(se_top ** 2 - se_pair ** 2, 0.0)) <= 0:
                    r = pd.Series(pair)
                    break
        out = {"query": r["query"], "description": r["segment"], "rows": int(r["rows"]),
               "share": float(r["share"]), "loss": float(r["lost"]), "loss_low": float(r["lost_low"]),
               "loss_high": float(r["lost_high"]), "shift": float(r["shift"]), "contribution": float(r["contribution"]),
               "unit": self.unit, "scope": self.scope}
        for c in ("observed", "expected"):
            if c in r.index:
                out[c] = float(r[c])
        return out

    def plot(self, kind: str = "bars", top: int = 10):
        """``bars``: the ``top`` segments by lost performance × share, with 95% intervals."""
        if kind == "bars":
            return plots.segment_bars(self, top)
        raise UsageError(f"The 'kind' parameter of SegmentResult.plot must be 'bars'. Got {kind!r} instead.")

    def _repr_html_(self) -> str:
        return table_html(self.table.head(15))


def _segment_stats(codes: np.ndarray, k: int, v: np.ndarray):
    """Per code: row count, mean and variance of ``v`` (codes < 0 ignored)."""
    ok = codes >= 0
    c = codes[ok]
    n = np.bincount(c, minlength=k).astype(float)
    s1 = np.bincount(c, weights=v[ok], minlength=k)
    s2 = np.bincount(c, weights=v[ok] ** 2, minlength=k)
    mean = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
    var = np.where(n > 1, (s2 - s1 ** 2 / np.maximum(n, 1)) / np.maximum(n - 1, 1), np.nan)
    return n, mean, var


def find_segments(binnings: Sequence[Binning], frame: pd.DataFrame, values: np.ndarray, reference: pd.DataFrame,
                  reference_values: np.ndarray, *, direction: str, unit: str, scope: str = "window",
                  classes: np.ndarray | None = None, observed: np.ndarray | None = None,
                  expected: np.ndarray | None = None, pairs: bool = True,
                  min_rows: int | None = None) -> SegmentResult:
    """Rank segments (levels, quartile bins and pairs of them) by lost performance × share.

    For each segment, *shift* is the mean of ``values`` in the window minus its
    mean in the same segment of the reference (a segment the model always
    served worse is not a change). *lost* is the shift read in the worse
    direction: ``abs`` (binary: the residual label − calibrated score; a click
    rate moving away from the scores either way is lost calibration, in
    outcome-rate points), ``lower`` (multiclass: hits − expected hits, accuracy
    points) or ``higher`` (regression: excess absolute error, MAE units).
    *contribution* = lost × share of rows, with a 95% interval from the normal
    approximation of both means.

    Segments with fewer than ``min_rows`` rows (default max(
    :data:`MIN_SEGMENT_ROWS`, 1% of rows)), fewer than :data:`MIN_CLASS_ROWS`
    rows of either class (when ``classes`` is 0/1) or fewer than
    :data:`MIN_BIN_ROWS` reference rows are suppressed as too noisy.
    """
    if direction not in ("abs", "higher", "lower"):
        raise UsageError(f"The 'direction' parameter of find_segments must be 'abs', 'higher' or 'lower'. "
                         f"Got {direction!r} instead.")
    n = len(frame)
    min_rows = min_rows or max(MIN_SEGMENT_ROWS, int(MIN_SEGMENT_SHARE * n))
    values = np.asarray(values, dtype=float)
    reference_values = np.asarray(reference_values, dtype=float)
    codes_w = {b.feature: b.codes(frame[b.feature]) for b in binnings}
    codes_r = {b.feature: b.codes(reference[b.feature]) for b in binnings}
    by_name = {b.feature: b for b in binnings}
    candidates = [(b.feature, "", codes_w[b.feature], codes_r[b.feature],
                   [(lab, q, lab, "") for lab, q in zip(b.labels, b.queries)]) for b in binnings]
    if pairs:
        names = [b.feature for b in binnings]
        for i, fa in enumerate(names):
            for fb in names[i + 1:]:
                ka, kb = len(by_name[fa].labels), len(by_name[fb].labels)
                cw = np.where((codes_w[fa] >= 0) & (codes_w[fb] >= 0), codes_w[fa] * kb + codes_w[fb], -1)
                cr = np.where((codes_r[fa] >= 0) & (codes_r[fb] >= 0), codes_r[fa] * kb + codes_r[fb], -1)
                labels = [(f"{by_name[fa].labels[x]} and {by_name[fb].labels[yv]}",
                           f"{by_name[fa].queries[x]} and {by_name[fb].queries[yv]}",
                           by_name[fa].labels[x], by_name[fb].labels[yv])
                          for x in range(ka) for yv in range(kb)]
                candidates.append((fa, fb, cw, cr, labels))
    binary = classes is not None and set(np.unique(classes)) <= {0.0, 1.0}
    rows = []
    suppressed = 0
    for fa, fb, cw, cr, labels in candidates:
        k = len(labels)
        cnt, mw, vw = _segment_stats(cw, k, values)
        cntr, mr, vr = _segment_stats(cr, k, reference_values)
        pos = np.bincount(cw[(cw >= 0) & (classes == 1)], minlength=k) if binary else None
        obs = _segment_stats(cw, k, observed)[1] if observed is not None else None
        exp = _segment_stats(cw, k, expected)[1] if expected is not None else None
        for j in range(k):
            if cnt[j] == 0:
                continue
            if (cnt[j] < min_rows or cntr[j] < MIN_BIN_ROWS or
                    (pos is not None and min(pos[j], cnt[j] - pos[j]) < MIN_CLASS_ROWS)):
                suppressed += 1
                continue
            shift = mw[j] - mr[j]
            se = math.sqrt(vw[j] / cnt[j] + vr[j] / cntr[j])
            sign = {"abs": 1.0 if shift >= 0 else -1.0, "higher": 1.0, "lower": -1.0}[direction]
            lost = sign * shift
            share = cnt[j] / n
            row = {"segment": labels[j][0], "query": labels[j][1], "features": fa + (f", {fb}" if fb else ""),
                   "part_a": labels[j][2], "part_b": labels[j][3],
                   "rows": int(cnt[j]), "share": share, "shift": shift, "lost": lost,
                   "lost_low": lost - 1.96 * se, "lost_high": lost + 1.96 * se, "contribution": share * lost,
                   "contribution_low": share * (lost - 1.96 * se), "contribution_high": share * (lost + 1.96 * se)}
            if obs is not None:
                row["observed"] = obs[j]
            if exp is not None:
                row["expected"] = exp[j]
            rows.append(row)
    cols = ["segment", "query", "features", "part_a", "part_b", "rows", "share", "shift", "lost", "lost_low",
            "lost_high",
            "contribution", "contribution_low", "contribution_high"]
    cols += [c for c in ("observed", "expected") if rows and c in rows[0]]
    table = pd.DataFrame(rows, columns=cols)
    table = table.sort_values("contribution", ascending=False, kind="stable").reset_index(drop=True)
    return SegmentResult(table, unit, scope, suppressed)


def segment_query(frame: pd.DataFrame, query: str) -> pd.DataFrame:
    """The rows of a segment, through the filter grammar (:mod:`mlmon_nb.expressions`): column names
    and levels are data, never evaluated as code."""
    return frame[parse_filter(query, "segment").mask(frame)]
