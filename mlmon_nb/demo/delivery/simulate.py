"""The simulated orders of the delivery-time model: traffic, inputs, minutes, the model, serving, labels.

Rows are a dict of equally long numpy arrays, as in :mod:`mlmon_nb.demo.generate`;
categorical inputs are integer codes into the label tuples of :mod:`.scenario`.
Each function draws from the generator it is given: the same seed gives the same rows.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from ..generate import Rows
from ..scenario import HOUR_US, us
from .scenario import (
    CANCELLED_SHARE, CATEGORICAL, CATEGORICAL_LABELS, DISTANCE_SIGMA, HANDOVER_MINUTES, HARBOUR_DISTANCE_MEDIAN_KM,
    HARBOUR_DISTANCE_SIGMA, HARBOUR_SHARE, HOURLY, LATENCY_MEDIAN_MS, LATENCY_SIGMA, MINUTES_PER_ITEM,
    MINUTES_PER_KM, NOISE_SCALE, NOISE_SHAPE, NUMERIC, ROAD_WORKS_AT, ROAD_WORKS_SLOWDOWN, RUSH_FACTOR, RUSH_HOURS,
    VEHICLE_SHARES, VEHICLES, WEATHER_FACTOR, WEATHER_SHARES, WEATHERS, WEEKDAY, ZONE_DISTANCE_MEDIAN_KM,
    ZONE_SHARES, ZONES, new_zone_start, orders_per_week,
)


def orders(rng: np.random.Generator, start: dt.datetime, end: dt.datetime, scale: float) -> np.ndarray:
    """Sorted order timestamps (int64 microseconds), Poisson per hour around the meal-time curve."""
    n_hours = int((end - start).total_seconds()) // 3600
    hour = np.arange(n_hours)
    shape = HOURLY[hour % 24] * WEEKDAY[(start.weekday() + hour // 24) % 7]
    counts = rng.poisson(orders_per_week(scale) * shape / np.outer(WEEKDAY, HOURLY).sum())
    hour_start = us(start) + hour.astype(np.int64) * HOUR_US
    return np.sort(np.repeat(hour_start, counts) + rng.integers(0, HOUR_US, counts.sum()))


def inputs(rng: np.random.Generator, ts: np.ndarray) -> Rows:
    """The model's inputs per order; from the harbour's opening a share of orders come from it."""
    n = ts.size
    harbour = (ts >= us(new_zone_start())) & (rng.random(n) < HARBOUR_SHARE)
    zone = np.where(harbour, len(ZONES), rng.choice(len(ZONES), n, p=ZONE_SHARES))
    median = np.append(ZONE_DISTANCE_MEDIAN_KM, HARBOUR_DISTANCE_MEDIAN_KM)[zone]
    sigma = np.where(harbour, HARBOUR_DISTANCE_SIGMA, DISTANCE_SIGMA)
    distance = np.clip(np.round(median * np.exp(sigma * rng.normal(0.0, 1.0, n)), 2), 0.3, 25.0)
    return {
        "distance_km": distance,
        "basket_items": (1 + rng.poisson(1.8, n)).astype(np.int64),
        "prep_minutes": np.clip(np.round(rng.gamma(4.0, 3.0, n), 1), 2.0, None),
        "hour_of_day": ((ts // HOUR_US) % 24).astype(np.int64),
        "zone": zone,
        "vehicle": rng.choice(len(VEHICLES), n, p=VEHICLE_SHARES),
        "weather": rng.choice(len(WEATHERS), n, p=WEATHER_SHARES),
    }


def expected_minutes(rows: Rows) -> np.ndarray:
    """Mean minutes given the inputs and the time: kitchen, packing, travel, handover.

    Travel is distance x minutes per km of the vehicle x weather x rush hour,
    and x ROAD_WORKS_SLOWDOWN from ROAD_WORKS_AT on.
    """
    slowdown = np.where(rows["ts"] >= us(ROAD_WORKS_AT), ROAD_WORKS_SLOWDOWN, 1.0)
    rush = np.where(np.isin(rows["hour_of_day"], RUSH_HOURS), RUSH_FACTOR, 1.0)
    travel = (rows["distance_km"] * MINUTES_PER_KM[rows["vehicle"]] * WEATHER_FACTOR[rows["weather"]]
              * rush * slowdown)
    return rows["prep_minutes"] + MINUTES_PER_ITEM * rows["basket_items"] + travel + HANDOVER_MINUTES[rows["zone"]]


def actual_minutes(rng: np.random.Generator, rows: Rows) -> np.ndarray:
    """The delivered minutes: the expected ones plus centred gamma noise (late deliveries trail)."""
    noise = rng.gamma(NOISE_SHAPE, NOISE_SCALE, rows["ts"].size) - NOISE_SHAPE * NOISE_SCALE
    return np.round(np.maximum(expected_minutes(rows) + noise, 5.0), 1)


def feature_frame(rows: Rows) -> pd.DataFrame:
    """The raw input columns as a DataFrame, as the model sees them in the files."""
    frame = {name: rows[name] for name in NUMERIC}
    for name, labels in zip(CATEGORICAL, CATEGORICAL_LABELS):
        frame[name] = np.asarray(labels, dtype=object)[rows[name]]
    return pd.DataFrame(frame)


def train(rows: Rows, rng: np.random.Generator) -> Pipeline:
    """Version 1: gradient-boosted trees on one-hot zones, vehicles and weather and the numeric inputs."""
    model = Pipeline([
        ("prepare", ColumnTransformer([
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(CATEGORICAL)),
            ("numeric", "passthrough", list(NUMERIC)),
        ])),
        ("regress", HistGradientBoostingRegressor(
            # Small trees: SHAP's cost in the explainability notebook grows with trees x leaves.
            learning_rate=0.15, max_iter=120, max_leaf_nodes=15, l2_regularization=1.0,
            early_stopping=False, random_state=int(rng.integers(2**31 - 1)),
        )),
    ])
    return model.fit(feature_frame(rows), rows["actual_minutes"])


def serving(rng: np.random.Generator, rows: Rows, model: Pipeline) -> Rows:
    """The logged ETA (minutes, one decimal) and the serving latency of every order."""
    eta = np.round(model.predict(feature_frame(rows)), 1) if rows["ts"].size else np.empty(0)
    latency = LATENCY_MEDIAN_MS * np.exp(rng.normal(0.0, LATENCY_SIGMA, rows["ts"].size))
    return {"eta_minutes": eta, "latency_ms": np.round(latency, 1)}


def labels(rng: np.random.Generator, rows: Rows, now: dt.datetime) -> Rows:
    """Which orders have their actual minutes by ``now``, and when each was delivered."""
    delivered_at = rows["ts"] + np.round(rows["actual_minutes"] * 60 * 1_000_000).astype(np.int64)
    cancelled = rng.random(rows["ts"].size) < CANCELLED_SHARE
    return {"labelled": ~cancelled & (delivered_at < us(now)), "delivered_at": delivered_at}
