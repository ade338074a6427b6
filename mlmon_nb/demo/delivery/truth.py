"""The delivery model's part of ``ground_truth.json``: planted events and figures measured with numpy."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from ..generate import Rows, subset
from ..scenario import LOGS_START, REFERENCE_START, WEEK, us
from ..truth import _number
from .scenario import (
    CATEGORICAL, FEATURES, HARBOUR_DISTANCE_MEDIAN_KM, HARBOUR_SHARE, MODEL_NAME, MONITORED_VERSION, NEW_ZONE,
    NEW_ZONE_WEEK, NUMERIC, ROAD_WORKS_AT, ROAD_WORKS_SLOWDOWN, ZONE_LABELS, ZONES, new_zone_start,
    orders_per_week, road_works_week,
)

NOTES = (
    "Minutes are kitchen preparation + 0.5 per basket item + travel (distance x minutes per km of the "
    "vehicle x weather x 1.25 at rush hours x the road works' slowdown) + handover, plus centred gamma "
    "noise; the inputs do not depend on each other except distance on zone.",
    "mae and rmse compare the logged eta_minutes with the actual minutes of the labelled orders.",
    "Week numbers count from 1 at the first log week; reference weeks are -3..0.",
)


def _errors(rows: Rows, mask: np.ndarray) -> dict[str, float | None]:
    if not mask.any():
        return {"mae": None, "rmse": None}
    error = rows["eta_minutes"][mask] - rows["actual_minutes"][mask]
    return {"mae": _number(np.abs(error).mean(), 4), "rmse": _number(np.sqrt((error ** 2).mean()), 4)}


def _figures(rows: Rows, labelled: np.ndarray) -> dict[str, Any]:
    n = rows["ts"].size
    return {
        "rows": int(n),
        "labelled_rows": int(labelled.sum()),
        **_errors(rows, labelled),
        "mean_actual_minutes": _number(rows["actual_minutes"][labelled].mean(), 4) if labelled.any() else None,
        "mean_eta_minutes": _number(rows["eta_minutes"].mean(), 4) if n else None,
        "distance_median_km": _number(np.median(rows["distance_km"]), 3) if n else None,
        "zone_share": {label: _number((rows["zone"] == k).mean()) if n else None
                       for k, label in enumerate(ZONE_LABELS)},
    }


def _weekly(rows: Rows, labelled: np.ndarray, start: dt.datetime, n_weeks: int, first_week: int) -> list[dict]:
    weeks = []
    for k in range(n_weeks):
        begin, end = start + k * WEEK, start + (k + 1) * WEEK
        mask = (rows["ts"] >= us(begin)) & (rows["ts"] < us(end))
        weeks.append({"week": first_week + k, "start": begin.isoformat(), "end": end.isoformat(),
                      **_figures(subset(rows, mask), labelled[mask])})
    return weeks


def ground_truth(*, scale: float, windows: tuple[tuple[dt.datetime, dt.datetime], ...], reference: Rows,
                 logs: Rows, labels: Rows) -> dict:
    """The ``delivery`` block of ``ground_truth.json``."""
    end = windows[-1][1]
    zone_opens = new_zone_start()
    drift_occurred, works_occurred = zone_opens < end, ROAD_WORKS_AT < end
    drifted = ("distance_km", "zone") if drift_occurred else ()
    labelled, ts = labels["labelled"], logs["ts"]
    before_works = ts < us(ROAD_WORKS_AT)
    # Measured up to the harbour's opening, so that the figures hold the road works alone.
    works_only = ~before_works & (ts < us(zone_opens))
    return {
        "scenario": "delivery-time regression: minutes from order to handover",
        "model": MODEL_NAME,
        "version": MONITORED_VERSION,
        "task": "regression",
        "orders_per_week": orders_per_week(scale),
        "features": {"numeric": list(NUMERIC), "categorical": list(CATEGORICAL)},
        "drifted_features": list(drifted),
        "stable_features": [name for name in FEATURES if name not in drifted],
        "events": [
            {
                "kind": "concept_drift",
                "occurred": works_occurred,
                "cause": "road works",
                "week": road_works_week(),
                "at": ROAD_WORKS_AT.isoformat(),
                "travel_minutes_per_km_multiplier": ROAD_WORKS_SLOWDOWN,
                "feature_distributions": "unchanged",
                "before": _errors(logs, labelled & before_works),
                "after": _errors(logs, labelled & works_only),
            },
            {
                "kind": "covariate_drift",
                "occurred": drift_occurred,
                "week": NEW_ZONE_WEEK,
                "start": zone_opens.isoformat(),
                "features": {
                    "zone": {"new_level": NEW_ZONE, "share": HARBOUR_SHARE, "levels_before": list(ZONES)},
                    "distance_km": {"new_zone_median_km": HARBOUR_DISTANCE_MEDIAN_KM},
                },
                "minutes_given_inputs": "unchanged (the road works go on)",
            },
        ],
        "reference": {**_figures(reference, np.ones(reference["ts"].size, dtype=bool)),
                      "weeks": _weekly(reference, np.ones(reference["ts"].size, dtype=bool),
                                       REFERENCE_START, 4, -3)},
        "weeks": _weekly(logs, labelled, LOGS_START, len(windows), 1),
        "labels": {"key": "order_id", "labelled_rows": int(labelled.sum()),
                   "arrive": "when the order is delivered (delivered_at); cancelled orders never"},
        "notes": list(NOTES),
    }
