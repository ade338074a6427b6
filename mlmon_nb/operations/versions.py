"""Serving versions: is the analysed version actually serving its usual share, and which others are?

The analysed version's share of the window's requests against its share in
the baseline window (100 % without one): one-sided binomial test of a drop
and a floor in points; not serving at all is an alert.
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from ..rules import decide
from .counts import binomial_shortfall
from .policy import ALPHA, MIN_CHANGE
from .result import Decision, VersionResult


def serving_versions(per_version: pd.DataFrame, version: str, baseline_rows: Mapping[str, int] | None) -> VersionResult:
    """Is the analysed version actually serving, and which other versions are?

    Parameters
    ----------
    per_version : DataFrame
        ``version``, ``rows`` (and optionally ``p95``, ``error_rate``) in the window.
    version : str
        The version under analysis.
    baseline_rows : mapping, optional
        Rows per version in the baseline window; without it the version is
        expected to serve everything.
    """
    total = int(per_version["rows"].sum())
    base_total = sum((baseline_rows or {}).values())
    s0 = (baseline_rows or {}).get(version, 0) / base_total if base_total else 1.0
    table = per_version.copy()
    table["share"] = table["rows"] / total if total else 0.0
    table["baseline share"] = [(baseline_rows or {}).get(v, 0) / base_total if base_total else
                               (1.0 if v == version else 0.0) for v in table["version"]]
    table["analysed"] = table["version"] == version
    table["in baseline"] = [v in (baseline_rows or {}) for v in table["version"]] if baseline_rows else table["analysed"]
    table = table.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)
    k = int(table.loc[table["analysed"], "rows"].sum())
    share = k / total if total else 0.0
    p = binomial_shortfall(k, total, s0)
    floors = MIN_CHANGE["serving_version"]
    status = "alert" if k == 0 else decide(s0 - share, floors[0], floors[1], significant=p < ALPHA)
    others = table.loc[~table["analysed"], ["version", "rows", "share"]]
    text = ""
    if status != "ok":
        text = (f"Version {version} is not serving: 0 of {total:,} requests" if k == 0 else
                f"Version {version} served {share:.0%} of requests against {s0:.0%} in the baseline")
    dec = Decision("operational", "serving_version", status, "binomial", share, max(0.0, s0 - floors[1]), p, None,
                   text, {"version": version, "rows": k, "total_rows": total, "baseline_share": s0,
                          "other_versions": {str(v): int(r) for v, r in zip(others["version"], others["rows"])}})
    return VersionResult(version=version, per_version=table, decisions=(dec,))
