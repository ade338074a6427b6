"""Data quality of the analysed version's inputs: missing values, out-of-range values, unseen levels, types.

Per column, against the baseline's reference profile: a one-sided binomial
test and a floor for each share (missing values against the reference rate,
values outside the reference range against ``2 / (N + 1)``, unseen levels
against the Good–Turing rate), and the DuckDB type of the window's files
against the reference's.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..checks import worst
from ..rules import Band, decide
from .counts import binomial_critical_rate, binomial_excess, dispersion_from_band
from .policy import ALPHA, MIN_CHANGE
from .result import Decision, QualityResult


def good_turing_unseen(frequencies: Mapping[str, float], n_valid: int) -> float:
    """Chance that a new value has a level never seen among ``n_valid`` reference values.

    Good–Turing: (levels seen exactly once + 1) / (n_valid + 1); the +1 keeps it
    positive when no level was seen once.

    Examples
    --------
    >>> round(good_turing_unseen({"a": 0.5, "b": 0.3, "c": 0.1, "d": 0.1}, 10), 4)
    0.2727
    """
    counts = np.round(np.asarray(list(frequencies.values()), dtype=float) * n_valid)
    singles = int(np.sum(counts == 1))
    return (singles + 1) / (n_valid + 1)


_FAMILIES = (
    ("integer", ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "UHUGEINT")),
    ("floating", ("FLOAT", "DOUBLE", "REAL", "DECIMAL")),
    ("boolean", ("BOOLEAN",)),
    ("string", ("VARCHAR", "ENUM")),
    ("timestamp", ("TIMESTAMP", "DATE", "TIME")),
)


def type_family(dtype: str | None) -> str | None:
    """Family of a DuckDB type: integer, floating, boolean, string, timestamp or other (None if absent)."""
    if dtype is None:
        return None
    head = dtype.upper().split("(")[0].strip()
    for family, names in _FAMILIES:
        if any(head == n or head.startswith(n + " ") for n in names):
            return family
    return "other"


def type_status(reference: str | None, window: str | None) -> str:
    """ok for the same family, warn for integer ↔ floating point, alert for anything else.

    Examples
    --------
    >>> type_status("INTEGER", "BIGINT"), type_status("BIGINT", "DOUBLE"), type_status("DOUBLE", "VARCHAR")
    ('ok', 'warn', 'alert')
    """
    if reference is None:
        return "ok"
    fr, fw = type_family(reference), type_family(window)
    if fw is None:
        return "alert"
    if fr == fw:
        return "ok"
    if {fr, fw} == {"integer", "floating"}:
        return "warn"
    return "alert"


_WORDS = {"missing_rate": "missing", "out_of_range": "outside the reference range",
          "unseen_categories": "with levels not seen in the reference"}


def _rate_decision(column: str, what: str, k: int, n: int, p0: float, floors: tuple[float, float], tests: int,
                   method: str, dispersion: float = 1.0, baseline: float | None = None) -> Decision:
    share = k / n if n else 0.0
    p = binomial_excess(k, n, p0, dispersion)
    base = baseline if baseline is not None else 0.0
    alpha = ALPHA / max(1, tests)
    status = decide(share - base, floors[0], floors[1], significant=p < alpha)
    critical = binomial_critical_rate(n, p0, alpha, dispersion) if n else float("nan")
    threshold = max(critical, base + floors[1 if status != "warn" else 0])
    text = (f"{column}: {share:.1%} of values {_WORDS[what]}" + (f" (reference {base:.1%})" if what == "missing_rate" else "")
            if status != "ok" else "")
    return Decision("data_quality", f"{column}:{what}", status, method, share, threshold, p, None, text,
                    {"count": int(k), "rows": int(n), "expected_rate": p0, "dispersion": dispersion,
                     "alpha": alpha, "warn_change": floors[0], "alert_change": floors[1]})


def quality(counts: Mapping[str, Mapping[str, int]], rows: int, profiles: Mapping[str, Mapping[str, Any]],
            bands: Mapping[str, Band | None], reference_types: Mapping[str, str],
            window_types: Mapping[str, str]) -> tuple[QualityResult, list[str]]:
    """Judge data quality per column from window counts and the baseline profiles.

    Parameters
    ----------
    counts : mapping
        Column → ``{"missing": k, "out_of_range": k (numeric), "unseen": k (categorical)}``
        counted over the window's ``rows``.
    profiles : mapping
        Column → the baseline profile (``kind``, ``rows``, ``missing_rate``,
        ``min``/``max`` or ``frequencies``/``cardinality``).
    bands : mapping
        Column → the ``quality/missing_rate`` band (None when absent).
    reference_types, window_types : mapping
        DuckDB types of the reference and of the window's files.

    Returns
    -------
    (QualityResult, list of str)
        The result and what could not be checked (the result's notes).
    """
    n_num = sum(1 for c in counts if "out_of_range" in counts[c])
    n_cat = sum(1 for c in counts if "unseen" in counts[c])
    decisions, rows_out, notes = [], [], []
    for col, c in counts.items():
        prof = profiles[col]
        p0 = float(prof.get("missing_rate") or 0.0)
        n_ref_valid = int(round(prof.get("rows", 0) * (1 - p0)))
        # A reference without missing values: smallest rate it could not tell from zero.
        p0_eff = p0 if p0 > 0 else 0.5 / (prof.get("rows", 0) + 1)
        miss = _rate_decision(col, "missing_rate", c["missing"], rows, p0_eff, MIN_CHANGE["missing_rate"],
                              len(counts), "binomial", dispersion_from_band(bands.get(col), p0), baseline=p0)
        decisions.append(miss)
        row = {"column": col, "kind": prof["kind"], "missing (reference)": p0, "missing (window)": miss.value,
               "out of range": None, "unseen levels": None,
               "type (reference)": reference_types.get(col, ""), "type (window)": window_types.get(col, "absent")}
        valid = rows - c["missing"]
        if "out_of_range" in c:
            if prof.get("min") is None:
                notes.append(f"{col}: out-of-range check skipped, the feature has no values in the reference.")
            else:
                d = _rate_decision(col, "out_of_range", c["out_of_range"], valid, 2 / (n_ref_valid + 1),
                                   MIN_CHANGE["out_of_range"], n_num, "range_binomial")
                decisions.append(d)
                row["out of range"] = d.value
        if "unseen" in c:
            if prof.get("other_share", 0) > 0 or prof.get("cardinality", 0) > len(prof.get("frequencies", {})):
                notes.append(f"{col}: unseen-category check skipped, the baseline keeps only the top "
                             f"{prof.get('top_k')} of its {prof.get('cardinality'):,} levels.")
            elif not prof.get("frequencies"):
                notes.append(f"{col}: unseen-category check skipped, the feature has no values in the reference.")
            else:
                d = _rate_decision(col, "unseen_categories", c["unseen"], valid,
                                   good_turing_unseen(prof["frequencies"], n_ref_valid),
                                   MIN_CHANGE["unseen_categories"], n_cat, "good_turing_binomial")
                decisions.append(d)
                row["unseen levels"] = d.value
        if col in reference_types:
            rt, wt = reference_types[col], window_types.get(col)
            st = type_status(rt, wt)
            text = f"{col}: type changed from {rt} to {wt or 'absent'}" if st != "ok" else ""
            decisions.append(Decision("data_quality", f"{col}:type", st, "type_family", None, None, None, None, text,
                                      {"reference_type": rt, "window_type": wt or "absent"}))
        row["status"] = worst(d.status for d in decisions if d.subject.split(":")[0] == col)
        rows_out.append(row)
    return QualityResult(columns=pd.DataFrame(rows_out), decisions=tuple(decisions)), notes
