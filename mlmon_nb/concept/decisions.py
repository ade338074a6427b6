"""Decisions: the status each concept-drift check gets, always by :func:`mlmon_nb.rules.decide`.

``performance`` (one per metric, the window's labelled rows): *alert* beyond
the baseline band limit (mean ± :data:`~mlmon_nb.rules.BAND_SIGMAS` sd of the
reference chunks, sd scaled to the labelled rows; ``thresholds.band_margin``
adds sd) in the worse direction, or beyond ``thresholds.metrics.<metric>.alert``
when set; *warn* beyond :data:`~mlmon_nb.rules.WARN_SIGMAS` sd (or the ``warn``
value), or when a chunk with enough labels (``min_labels_per_chunk`` and
:data:`~.per_chunk.MIN_CLASS_ROWS` of each class) is beyond its own band limit.
Chunks with too few labels are drawn but never judged.

``estimated_performance`` (one per metric, every row): the same rule on the
estimate, with the band at the window's row count.

``concept_drift`` (one per metric): z = (realized − expected) / sd, negative
when worse. *alert* at z ≤ −3 and *warn* at z ≤ −2, both Bonferroni-adjusted
for the number of metrics (:func:`z_limits`), and only when the gap is at
least :data:`MIN_RELATIVE_GAP` of the reference value (a huge window must not
alert on a negligible gap). Otherwise the input shift explains whatever moved.
The same test on the rows after a consensus change point is recorded too
(method ``realized_vs_expected_since_change``). One more ``concept_drift``
check (subject ``p(y|x)``, method ``residual_shift``) compares residuals
(label − calibrated score) per feature bin and score decile between reference
and window: *warn* when a feature's chi-square is significant after
Benjamini-Hochberg (q < :data:`RESIDUAL_ALPHA`) and its largest bin shift is at
least :data:`RESIDUAL_MIN_EFFECT` residual sd; it never alerts on its own.

``change_point`` (one per detection, ``at`` = estimated onset): *alert* when
at least :data:`~.changes.CONSENSUS_MIN` detectors place their onsets within
:data:`~.changes.CONSENSUS_TOLERANCE` of each other **and** performance on the
labelled rows from that onset on is clearly below expected (the concept rule)
or the primary metric there is beyond its band limit; *warn* for such an
agreement without a drop; *ok* for a detection no other detector confirms.

Which of these checks a covariate shift explains (when no ``concept_drift``
check fires) is decided afterwards, in :mod:`.inhibition`; it never changes a status.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import rules
from ..alertable import HIGHER_IS_BETTER
from ..checks import worst
from ..rules import Band
from .spec import CI_METHOD, ESTIMATOR_METHOD, ModelSpec

__all__ = ["MIN_RELATIVE_GAP", "RESIDUAL_ALPHA", "RESIDUAL_MIN_EFFECT", "band_edges", "beyond_band",
           "metric_status", "z_limits", "gap_status", "residual_status", "change_status",
           "performance_checks", "estimated_checks", "concept_checks", "change_checks", "first_chunk_below"]

MIN_RELATIVE_GAP = 0.03
RESIDUAL_ALPHA = 1e-3
RESIDUAL_MIN_EFFECT = 0.1

_NAN = float("nan")
_HIGHER = {"higher_is_better": True, "lower_is_better": False}


# --------------------------------------------------------------------------- one figure

def worse_direction(metric: str, fixed: Mapping[str, Any] | None = None) -> str:
    """``down`` when a lower value of ``metric`` is worse, else ``up`` (fixed limits may say which).

    Examples
    --------
    >>> worse_direction("roc_auc"), worse_direction("log_loss")
    ('down', 'up')
    """
    higher = HIGHER_IS_BETTER.get(metric, True)
    if fixed:
        higher = _HIGHER.get(fixed.get("direction"), higher)
    return "down" if higher else "up"


def band_edges(band: Band | None, rows: float, margin: float = 0.0, metric: str | None = None,
               min_change: float | None = None) -> dict[str, Any]:
    """The alert and warn limits of a band at a row count (NaN without a band or without rows).

    Alert at ``BAND_SIGMAS + margin`` sd, warn at ``WARN_SIGMAS + margin`` sd,
    around the band's centre (its healthiest end when the reference trends).
    With a ``metric``, never closer to the centre than the metric's material
    change (:func:`mlmon_nb.rules.material_change`, ``min_change`` overriding
    it), and never outside what the metric can take.

    Examples
    --------
    >>> b = Band(mean=0.7, sd=0.02, low_seen=0.65, high_seen=0.75, chunk_rows=1000, n_chunks=20)
    >>> {k: round(v, 2) for k, v in band_edges(b, 1000).items() if k in ("low", "high", "warn_low", "warn_high")}
    {'low': 0.64, 'high': 0.76, 'warn_low': 0.66, 'warn_high': 0.74}
    >>> round(band_edges(b, 1_000_000, metric="roc_auc")["low"], 3)
    0.68
    """
    empty = {"low": _NAN, "high": _NAN, "warn_low": _NAN, "warn_high": _NAN, "mean": _NAN, "note": None,
             "sampling_sd": _NAN, "between_sd": _NAN, "compared_with": None, "min_change": _NAN, "trend": None}
    if band is None or not rows or not np.isfinite(band.sd) or not np.isfinite(band.mean):
        return empty
    worse = worse_direction(metric) if metric else None
    centre = band.centre(worse)
    low, high = band.limits(rows, rules.sigmas(margin), worse)
    warn_low, warn_high = band.limits(rows, rules.WARN_SIGMAS + margin, worse)
    note = None
    material = (0.0, 0.0)
    if metric is not None:
        material = rules.material_change(metric, centre, min_change)
        low, high = min(low, centre - material[1]), max(high, centre + material[1])
        warn_low, warn_high = min(warn_low, centre - material[0]), max(warn_high, centre + material[0])
        edge, note = rules.within_range(low if worse == "down" else high, metric,
                                        centre - material[1] if worse == "down" else centre + material[1])
        low, high = (edge, high) if worse == "down" else (low, edge)
        low, _ = rules.within_range(low, metric, centre)
        high, _ = rules.within_range(high, metric, centre)
        warn_low, _ = rules.within_range(warn_low, metric, centre)
        warn_high, _ = rules.within_range(warn_high, metric, centre)
    samp, between = band.noise(rows)
    return {"low": low, "high": high, "warn_low": warn_low, "warn_high": warn_high, "mean": centre, "note": note,
            "sampling_sd": samp, "between_sd": between, "compared_with": band.compared_with(worse),
            "min_change": material[1], "trend": band.trend_sentence(metric or "the figure")}


def beyond_band(metric: str, value: float, low: float, high: float) -> bool:
    """Whether ``value`` is beyond the band's alert limit in the worse direction."""
    worse = worse_direction(metric)
    limit = low if worse == "down" else high
    return rules.decide(value, None, limit, worse=worse) == "alert"


def metric_status(metric: str, value: float, limits: Mapping[str, float],
                  fixed: Mapping[str, Any] | None = None) -> tuple[str, float]:
    """Status of a metric value against fixed limits (when set) or its band, and the limit reported.

    ``limits`` holds ``low``, ``high``, ``warn_low`` and ``warn_high`` (see
    :func:`band_edges`); ``fixed`` is ``thresholds.metric(name)``. The limit
    reported is the alert limit (the warn value when only that is set).

    Examples
    --------
    >>> metric_status("roc_auc", 0.69, {}, {"warn": 0.74, "alert": 0.70})
    ('alert', 0.7)
    >>> metric_status("roc_auc", 0.72, {"low": 0.64, "high": 0.76, "warn_low": 0.66, "warn_high": 0.74})
    ('ok', 0.64)
    """
    if not np.isfinite(value):
        return "ok", _NAN
    worse = worse_direction(metric, fixed)
    if fixed:
        alert, warn = fixed.get("alert"), fixed.get("warn")
        return rules.decide(value, warn, alert, worse=worse), float(alert if alert is not None else warn)
    alert_at, warn_at = ((limits["low"], limits["warn_low"]) if worse == "down"
                         else (limits["high"], limits["warn_high"]))
    if not np.isfinite(alert_at):
        return "ok", _NAN
    return rules.decide(value, warn_at, alert_at, worse=worse), float(alert_at)


def z_limits(n_tests: int = 1) -> tuple[float, float]:
    """(alert, warn) z limits of the concept rule, Bonferroni-adjusted for ``n_tests`` metrics.

    One metric: −3 and −2 (:data:`~mlmon_nb.rules.BAND_SIGMAS`,
    :data:`~mlmon_nb.rules.WARN_SIGMAS`). Several: the one-sided tail
    probabilities of those divided by their number (four metrics: about −3.40 and −2.53).

    Examples
    --------
    >>> [round(z, 2) for z in z_limits(4)]
    [-3.4, -2.53]
    """
    m = max(int(n_tests), 1)
    return -rules.bonferroni_sigmas(rules.BAND_SIGMAS, m), -rules.bonferroni_sigmas(rules.WARN_SIGMAS, m)


def gap_status(metric: str, realized_value: float, expected: float, sd: float,
               reference_value: float | None, n_tests: int = 1) -> dict[str, float | str]:
    """The concept-drift rule: how much worse than expected, in sd, and the resulting status.

    Examples
    --------
    >>> gap_status("roc_auc", 0.60, 0.70, 0.02, 0.72)["status"]
    'alert'
    """
    from scipy.stats import norm  # scipy loads with the first test, not on import

    higher = worse_direction(metric) == "down"
    gap = realized_value - expected
    worse_by = -gap if higher else gap
    z = -worse_by / sd if sd and np.isfinite(sd) and sd > 0 else _NAN
    min_gap = MIN_RELATIVE_GAP * abs(reference_value) if reference_value is not None and \
        np.isfinite(reference_value) else 0.0
    z_alert, z_warn = z_limits(n_tests)
    status = rules.decide(z, z_warn, z_alert, worse="down", significant=bool(worse_by >= min_gap))
    return {"gap": float(gap), "worse_by": float(worse_by), "z": float(z), "sd": float(sd),
            "p_value": float(norm.cdf(z)) if np.isfinite(z) else _NAN, "min_gap": float(min_gap),
            "z_alert": z_alert, "z_warn": z_warn, "status": status}


def residual_status(p_adjusted: float, effect: float) -> str:
    """``warn`` for a significant residual shift of at least :data:`RESIDUAL_MIN_EFFECT` sd; never ``alert``."""
    return rules.decide(effect, RESIDUAL_MIN_EFFECT, None, significant=bool(p_adjusted < RESIDUAL_ALPHA))


def change_status(drop: bool) -> str:
    """A consensus change point: ``alert`` with a performance drop after its onset, else ``warn``."""
    return "alert" if drop else "warn"


def first_chunk_below(chunks, metric: str, reference_value: float | None) -> bool:
    """Whether the first well-labelled chunk is already below expectation (the concept rule)."""
    ch = chunks.chunks(metric)
    ch = ch[ch["enough_labels"]]
    if not len(ch) or not np.isfinite(ch["z"].iloc[0]):
        return False
    r = ch.iloc[0]
    return gap_status(metric, r["realized"], r["expected"], r["null_sd"], reference_value)["status"] != "ok"


# --------------------------------------------------------------------------- the checks

def _limits(w: Mapping[str, Any], prefix: str) -> dict[str, float]:
    return {"low": w[f"{prefix}band_low"], "high": w[f"{prefix}band_high"],
            "warn_low": w[f"{prefix}band_warn_low"], "warn_high": w[f"{prefix}band_warn_high"]}


def performance_checks(chunks, spec: ModelSpec) -> list[dict[str, Any]]:
    """One ``performance`` check per metric (realized on the labelled rows)."""
    out = []
    for m in spec.metrics:
        w = chunks.window(m)
        fixed = spec.thresholds.metric(m)
        status, thr = metric_status(m, w["realized"], _limits(w, ""), fixed)
        if fixed is None and w.get("band_note") and status != "ok" and not _ci_excludes(m, w, w["band_mean"]):
            status = "ok"  # the floor replaced an unreachable band: it needs the interval to exclude the baseline
        ch = chunks.chunks(m)
        if status == "ok" and ch["below_band"].any() and fixed is None:
            status = "warn"
        out.append({"kind": "performance", "subject": m, "status": status,
                    "method": "band" if fixed is None else "fixed_threshold", "value": w["realized"],
                    "threshold": thr, "ci_low": w["ci_low"], "ci_high": w["ci_high"], "ci_method": CI_METHOD[m],
                    "band_low": w["band_low"], "band_high": w["band_high"], "labelled_rows": w["labelled"],
                    "coverage": w["coverage"], **_how(w, ""), "chunks": _chunk_details(ch, realized_too=True)})
    return out


def estimated_checks(chunks, spec: ModelSpec) -> list[dict[str, Any]]:
    """One ``estimated_performance`` check per metric (every row, no labels needed)."""
    out = []
    method = ESTIMATOR_METHOD[spec.task]
    for m in spec.metrics:
        w = chunks.window(m)
        status, thr = metric_status(m, w["estimated"], _limits(w, "est_"), spec.thresholds.metric(m))
        err = w["realized"] - w["expected"] if np.isfinite(w["realized"]) else None
        out.append({"kind": "estimated_performance", "subject": m, "status": status, "method": method,
                    "value": w["estimated"], "threshold": thr, "rows": w["rows"], **_how(w, "est_"),
                    "expected_range": [w["expected"] - 1.96 * w["null_sd"], w["expected"] + 1.96 * w["null_sd"]]
                    if np.isfinite(w["null_sd"]) else None,
                    "realized": w["realized"] if np.isfinite(w["realized"]) else None,
                    "realized_minus_expected": err,
                    "chunks": _chunk_details(chunks.chunks(m), realized_too=False)})
    return out


def concept_checks(concept, after_onset, residuals, spec: ModelSpec) -> list[dict[str, Any]]:
    """``concept_drift`` checks: realized against expected (window, and since a change), and P(y | x)."""
    out = []
    tests = [concept] if concept is not None else []
    if after_onset is not None and (concept is None
                                    or after_onset.table["rows"].iloc[0] < concept.table["rows"].iloc[0]):
        tests.append(after_onset)  # only when it tests fewer rows than the whole window
    for test in tests:
        method = "realized_vs_expected" if test is concept else "realized_vs_expected_since_change"
        for r in test.table.to_dict("records"):
            higher = worse_direction(r["metric"]) == "down"
            thr = r["z_alert"] * r["sd"] if higher else -r["z_alert"] * r["sd"]
            out.append({"kind": "concept_drift", "subject": r["metric"], "status": r["status"],
                        "method": method, "value": r["gap"], "threshold": thr,
                        "p_value": r["p_value"], "realized": r["realized"], "expected": r["expected"],
                        "z": r["z"], "z_alert": r["z_alert"], "z_warn": r["z_warn"], "sd": r["sd"],
                        "min_gap": r["min_gap"], "rows": r["rows"],
                        "scope": r["scope"], "expected_by": ESTIMATOR_METHOD[spec.task]})
    if residuals is not None and len(residuals.table):
        top = residuals.table.iloc[0]
        out.append({"kind": "concept_drift", "subject": "p(y|x)", "status": residuals.status(),
                    "method": "residual_shift", "value": float(top["effect"]), "threshold": RESIDUAL_MIN_EFFECT,
                    "p_value": float(top["p_adjusted"]), "feature": top["feature"], "bin": top["worst_bin"],
                    "shift": float(top["shift"]), "alpha": RESIDUAL_ALPHA,
                    "features_flagged": residuals.flagged()})
    return out


def change_checks(changes, spec: ModelSpec) -> list[dict[str, Any]]:
    """One ``change_point`` check per detection (its status was graded with the concept test)."""
    if changes is None or changes.detections.empty:
        return []
    out = []
    for r in changes.detections.to_dict("records"):
        cal = changes.calibration.get(r["detector"])
        out.append({"kind": "change_point", "subject": spec.primary, "status": r["status"],
                    "method": r["method"], "at": r["at"].isoformat(), "detected_at": r["detected_at"].isoformat(),
                    "delay_hours": r["delay_hours"], "consensus": bool(r["consensus"]),
                    "cluster": int(r["cluster"]),
                    "setting": cal.level if cal else None,
                    "reference_false_alarm_rate": cal.false_alarm_rate if cal else None,
                    "stream": "excess loss per block (z)"})
    return out


def _ci_excludes(metric: str, w: Mapping[str, Any], centre: float) -> bool:
    """Whether the realized value's interval lies wholly on the worse side of ``centre``."""
    if worse_direction(metric) == "down":
        return bool(np.isfinite(w["ci_high"]) and w["ci_high"] < centre)
    return bool(np.isfinite(w["ci_low"]) and w["ci_low"] > centre)


def _how(w: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """How a band decided, for a check's details: its centre, noise split, floor and any range note."""
    out = {"baseline": w.get("band_mean"), "compared_with": w.get("band_compared_with"),
           "baseline_trend": w.get("band_trend"),
           "min_change": w.get("band_min_change"), "sampling_sd": w.get(f"{prefix}band_sampling_sd"),
           "between_sd": w.get(f"{prefix}band_between_sd"), "band_note": w.get(f"{prefix}band_note")}
    return {k: v for k, v in out.items() if v is not None and not (isinstance(v, float) and not np.isfinite(v))}


def status_of(checks) -> str:
    """The worst status of some checks (``ok`` when there are none)."""
    return worst(c["status"] for c in checks)


def _chunk_details(ch: pd.DataFrame, realized_too: bool) -> list[dict[str, Any]]:
    out = []
    for r in ch.to_dict("records"):
        d = {"start": r["start"].isoformat(), "rows": r["rows"], "labelled": r["labelled"],
             "estimated": r["estimated"]}
        if realized_too:
            d.update({"value": r["realized"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                      "enough_labels": r["enough_labels"], "below_band": r["below_band"],
                      "band_low": r["band_low"], "band_high": r["band_high"]})
        out.append(d)
    return out
