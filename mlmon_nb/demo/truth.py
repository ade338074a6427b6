"""``ground_truth.json``: what the demo planted, and the figures measured from its rows.

Tests compare the notebooks' findings with these figures. They are computed
here with numpy and scikit-learn directly, not with the package's own
metrics, so that the truth stays independent of the code it checks.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from .generate import Rows, subset
from .scenario import (
    ALPHA_BEFORE_V2, ALPHA_STEP, ALPHA_WEEK_1, CATEGORICAL, DEVICE_SHARES, DEVICE_SHARES_DRIFTED,
    DEVICES, DISCOUNT_EFFECT, DISCOUNT_EFFECT_FLIPPED, DRIFT_WEEK, FEATURES, FLIP_AT, HOURLY,
    LABEL_DELAY_MAX_H, LABEL_DELAY_MEDIAN_H, LATENCY_MEDIAN_MS, LATENCY_MULTIPLIER, LATENCY_P95_MS,
    LATENCY_WEEK, LOGS_START, MODEL_NAME, MODEL_SHARE_BEFORE_V2, MODEL_SHARE_V2, MONITORED_VERSION,
    N_ITEMS, NEVER_LABELLED_SHARE, NUMERIC, PRICE_INFLATION, REFERENCE_START, ROLLOUT_DAYS,
    ROLLOUT_V1_SHARE, ROWS_PER_WEEK, TRAINING_START, WEEK, WEEKDAY, us, week_start,
)

GROUND_TRUTH_SCHEMA = "mlmon.demo-ground-truth/1"

NOTES = (
    "Monitored features are drawn per request, independently of item_id, user_id "
    "and the exposure mechanism; the feedback loop only concentrates item_id "
    "exposure and does not leak into covariate drift. P(click) depends on the "
    "features (and the flip) only.",
    "from_model equals shown: a row is under the model's influence exactly when "
    "the model placed the item.",
    "Both versions are trained on the training period; version 1 is recorded as "
    "deployed at its start.",
    "Label delay does not depend on the outcome.",
    "Week numbers count from 1 at the first log week; reference weeks are -3..0.",
    "auc_v2 is measured on labelled rows served by version 2; auc_v2_all_rows uses "
    "every row's true outcome; exposure_gini is over the items exposed in the week.",
)


# --------------------------------------------------------------------------
# Figures.


def gini(counts: np.ndarray) -> float | None:
    """Gini coefficient of non-negative counts (0 = equal, towards 1 = concentrated).

    >>> gini(np.array([5, 5, 5])), gini(np.array([0, 0, 9]))
    (0.0, 0.6666666666666667)
    """
    values = np.sort(np.asarray(counts, dtype=float))
    n, total = values.size, values.sum()
    if n == 0 or total == 0:
        return None
    return float(2 * np.arange(1, n + 1) @ values / (n * total) - (n + 1) / n)


def _auc(clicked: np.ndarray, score: np.ndarray) -> float | None:
    if np.unique(clicked).size < 2:
        return None
    return float(roc_auc_score(clicked, score))


def _number(value: float | None, digits: int = 6) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def _exposure_figures(items: np.ndarray, shown: np.ndarray) -> dict:
    """Gini over the items seen in a period, over all exposures and model-driven ones."""
    counts = np.bincount(items, minlength=N_ITEMS)
    shown_counts = np.bincount(items[shown], minlength=N_ITEMS)
    return {
        "exposure_gini": _number(gini(counts[counts > 0])),
        "exposure_gini_catalogue": _number(gini(counts)),
        "exposure_gini_shown": _number(gini(shown_counts[shown_counts > 0])),
        "items_exposed": int((counts > 0).sum()),
        "top_1pct_item_share": _number(
            np.sort(counts)[::-1][: N_ITEMS // 100].sum() / max(counts.sum(), 1)
        ),
        "shown_share": _number(shown.mean()) if shown.size else None,
    }


def _shares(codes: np.ndarray, labels: tuple[str, ...]) -> dict[str, float | None]:
    counts = np.bincount(codes, minlength=len(labels))
    return {label: _number(c / max(codes.size, 1)) for label, c in zip(labels, counts)}


def _week_figures(rows: Rows, labels: Rows | None) -> dict:
    figures: dict[str, Any] = {
        "rows": int(rows["ts"].size),
        "ctr": _number(rows["clicked"].mean()) if rows["ts"].size else None,
        "auc_oracle": _number(_auc(rows["clicked"], rows["p_click"])),
    }
    if labels is not None:
        v2 = ~rows["by_v1"]
        labelled = labels["labelled"]
        figures.update({
            "labelled_rows": int(labelled.sum()),
            "labelled_ctr": _number(rows["clicked"][labelled].mean()) if labelled.any() else None,
            "auc_v2": _number(_auc(rows["clicked"][labelled & v2], rows["score"][labelled & v2])),
            "auc_v2_all_rows": _number(_auc(rows["clicked"][v2], rows["score"][v2])),
            "v1_share": _number(rows["by_v1"].mean()) if rows["ts"].size else None,
            "mean_score_v2": _number(rows["score"][v2].mean()) if v2.any() else None,
            "latency_p50_ms": _number(np.percentile(rows["latency_ms"], 50), 3)
            if rows["ts"].size else None,
            "latency_p95_ms": _number(np.percentile(rows["latency_ms"], 95), 3)
            if rows["ts"].size else None,
            "error_rate": _number((rows["error"] >= 0).mean()) if rows["ts"].size else None,
        })
    figures.update(_exposure_figures(rows["item"], rows["shown"]))
    figures["price_median"] = _number(np.median(rows["price"]), 3) if rows["ts"].size else None
    figures["device_share"] = _shares(rows["device"], DEVICES)
    return figures


def _weekly(rows: Rows, labels: Rows | None, start: dt.datetime, n_weeks: int,
            first_week: int) -> list[dict]:
    weeks = []
    for k in range(n_weeks):
        begin, end = start + k * WEEK, start + (k + 1) * WEEK
        mask = (rows["ts"] >= us(begin)) & (rows["ts"] < us(end))
        week_labels = None if labels is None else subset(labels, mask)
        weeks.append({
            "week": first_week + k,
            "start": _iso(begin),
            "end": _iso(end),
            **_week_figures(subset(rows, mask), week_labels),
        })
    return weeks


# --------------------------------------------------------------------------
# The document.


def _events(*, scale, weeks, exposure, logs, labels, drift_occurred, flip_occurred) -> list[dict]:
    """The planted events, with their parameters and, for the flip, the AUC around it."""
    drift_start = week_start(DRIFT_WEEK)
    latency_start = week_start(LATENCY_WEEK)
    labelled, v2 = labels["labelled"], ~logs["by_v1"]
    before_flip = logs["ts"] < us(FLIP_AT)
    by_model = exposure == "model"
    return [
        {
            "kind": "rollout",
            "occurred": True,
            "start": _iso(LOGS_START),
            "end": _iso(LOGS_START + dt.timedelta(days=ROLLOUT_DAYS)),
            "old_version": "1",
            "old_version_share": ROLLOUT_V1_SHARE,
            "note": "outside this interval every logged request is served by version 2",
        },
        {
            "kind": "latency_regression",
            "occurred": LATENCY_WEEK <= weeks,
            "week": LATENCY_WEEK,
            "start": _iso(latency_start),
            "end": _iso(latency_start + WEEK),
            "multiplier": LATENCY_MULTIPLIER,
            "baseline": {"median_ms": LATENCY_MEDIAN_MS, "p95_ms": LATENCY_P95_MS},
        },
        {
            "kind": "covariate_drift",
            "occurred": drift_occurred,
            "week": DRIFT_WEEK,
            "start": _iso(drift_start),
            "features": {
                "price": {"multiplier": PRICE_INFLATION},
                "device": {
                    "before": dict(zip(DEVICES, DEVICE_SHARES)),
                    "after": dict(zip(DEVICES, DEVICE_SHARES_DRIFTED)),
                },
            },
            "p_click_given_features": "unchanged",
        },
        {
            "kind": "concept_drift",
            "occurred": flip_occurred,
            "week": (FLIP_AT - LOGS_START) // WEEK + 1,
            "at": _iso(FLIP_AT),
            "feature": "discount_pct",
            "logit_effect_per_point": {
                "before": DISCOUNT_EFFECT, "after": DISCOUNT_EFFECT_FLIPPED,
            },
            "feature_distributions": "unchanged",
            "auc_v2_before": _number(_auc(
                logs["clicked"][labelled & v2 & before_flip],
                logs["score"][labelled & v2 & before_flip])),
            "auc_v2_after": _number(_auc(
                logs["clicked"][labelled & v2 & ~before_flip],
                logs["score"][labelled & v2 & ~before_flip])),
        },
        {
            "kind": "feedback_loop",
            "occurred": by_model,
            "mode": exposure,
            "catalogue_items": N_ITEMS,
            "model_driven_share": {
                "before_v2": MODEL_SHARE_BEFORE_V2 if by_model else 0.0,
                "v2": MODEL_SHARE_V2 if by_model else 0.0,
            },
            "rule": (
                "model-driven exposures pick item i with probability proportional to "
                "appeal_i * (0.05 + recent_i / mean(recent)) ** alpha, recent = exposures "
                "decayed by 0.9 a day; the rest is uniform exploration (shown=False)"
                if by_model else
                "every exposure is uniform over the catalogue; shown and from_model "
                "are False everywhere"
            ),
            "alpha": {
                "before_v2": ALPHA_BEFORE_V2,
                "weeks": [_number(ALPHA_WEEK_1 + ALPHA_STEP * k) for k in range(weeks)],
            } if by_model else None,
        },
        {
            "kind": "seasonality",
            "occurred": True,
            "rows_per_week": ROWS_PER_WEEK * scale,
            "hourly_profile_utc": HOURLY.tolist(),
            "weekday_profile_monday_first": WEEKDAY.tolist(),
        },
    ]


def ground_truth(*, scale: float, weeks: int, seed: int, exposure: str,
                 windows: tuple[tuple[dt.datetime, dt.datetime], ...], labelled_until: dt.datetime,
                 training: Rows, reference: Rows, logs: Rows, labels: Rows) -> dict:
    """The ground-truth document: the arguments, the planted events and the measured figures."""
    end = windows[-1][1]
    drift_occurred = week_start(DRIFT_WEEK) < end
    drifted = ("price", "device") if drift_occurred else ()
    flip_occurred = FLIP_AT < end
    provenance = _number(training["shown"].mean())
    return {
        "schema": GROUND_TRUTH_SCHEMA,
        "scenario": "click-through-rate model ranking a product-recommendation feed",
        "model": MODEL_NAME,
        "version": MONITORED_VERSION,
        "arguments": {"scale": scale, "weeks": weeks, "seed": seed, "exposure": exposure},
        "exposure": exposure,
        "periods": {
            "training": [_iso(TRAINING_START), _iso(REFERENCE_START)],
            "reference": [_iso(REFERENCE_START), _iso(LOGS_START)],
            "logs": [_iso(LOGS_START), _iso(end)],
        },
        "windows": [[_iso(a), _iso(b)] for a, b in windows],
        "features": {"numeric": list(NUMERIC), "categorical": list(CATEGORICAL)},
        "drifted_features": list(drifted),
        "stable_features": [name for name in FEATURES if name not in drifted],
        "flip": {"at": _iso(FLIP_AT), "feature": "discount_pct", "occurred": flip_occurred},
        "latency_week": LATENCY_WEEK if LATENCY_WEEK <= weeks else None,
        "labelled_until": _iso(labelled_until),
        "training_provenance": {"1": provenance, "2": provenance},
        "events": _events(scale=scale, weeks=weeks, exposure=exposure, logs=logs, labels=labels,
                          drift_occurred=drift_occurred, flip_occurred=flip_occurred),
        "labels": {
            "labelled_until": _iso(labelled_until),
            "delay_hours": {"median": LABEL_DELAY_MEDIAN_H, "max": LABEL_DELAY_MAX_H},
            "never_labelled_share": NEVER_LABELLED_SHARE,
            "labelled_rows": int(labels["labelled"].sum()),
        },
        "reference": {
            "rows": int(reference["ts"].size),
            "ctr": _number(reference["clicked"].mean()),
            "auc_v1": _number(_auc(reference["clicked"], reference["score_v1"])),
            "auc_v2": _number(_auc(reference["clicked"], reference["score_v2"])),
            "auc_oracle": _number(_auc(reference["clicked"], reference["p_click"])),
            "from_model_share": _number(reference["shown"].mean()),
            **_exposure_figures(reference["item"], reference["shown"]),
            "weeks": _weekly(reference, None, REFERENCE_START, 4, -3),
        },
        "weeks": _weekly(logs, labels, LOGS_START, weeks, 1),
        "notes": list(NOTES),
    }


def write_ground_truth(root: Path, truth: dict) -> None:
    """``ground_truth.json``: the document, indented, strict JSON (no NaN)."""
    (root / "ground_truth.json").write_text(
        json.dumps(truth, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
