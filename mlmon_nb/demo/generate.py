"""The simulated requests: traffic, features, clicks, users, exposures, serving and labels.

Rows are a dict of equally long numpy arrays, one entry per column;
categorical features are integer codes into the label tuples of
:mod:`.scenario`. Each function draws from the generator it is given, in a
fixed order: the same seed gives the same rows.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from .scenario import (
    AFFINITY, ALPHA_BEFORE_V2, ALPHA_STEP, ALPHA_WEEK_1, APPEAL_SIGMA, CATEGORIES, CATEGORY_SHARES,
    CLICK_BASE, DAY_US, DEVICE_EFFECT, DEVICE_SHARES, DEVICE_SHARES_DRIFTED, DEVICES, DISCOUNT_CENTRE,
    DISCOUNT_EFFECT, DISCOUNT_EFFECT_FLIPPED, DRIFT_WEEK, ERROR_CODES, ERROR_RATE, EXPOSURE_DECAY,
    EXPOSURE_FLOOR, FLIP_AT, HOUR_US, HOURLY, LABEL_DELAY_MAX_H, LABEL_DELAY_MEDIAN_H,
    LABEL_DELAY_SIGMA, LATENCY_MEDIAN_MS, LATENCY_MULTIPLIER, LATENCY_SIGMA, LATENCY_WEEK,
    LOG_PRICE_EFFECT, LOGS_START, MODEL_SHARE_BEFORE_V2, MODEL_SHARE_V2, N_ITEMS,
    NEVER_LABELLED_SHARE, PRICE_INFLATION, PRICE_MEDIAN, PRICE_SIGMA, REGION_SHARES, REGIONS,
    ROLLOUT_DAYS, ROLLOUT_V1_SHARE, ROWS_PER_WEEK, TIMEOUT_MS, TRAINING_START,
    USERS_PER_WEEKLY_ROW, WEEKDAY, us, week_start,
)
from .train import feature_frame

Rows = dict[str, np.ndarray]


def subset(rows: Rows, mask: np.ndarray) -> Rows:
    """The rows where ``mask`` holds, every column alike."""
    return {name: values[mask] for name, values in rows.items()}


# --------------------------------------------------------------------------
# Traffic.


def traffic(rng: np.random.Generator, start: dt.datetime, end: dt.datetime,
            scale: float) -> np.ndarray:
    """Sorted request timestamps (int64 microseconds), Poisson per hour."""
    n_hours = int((end - start).total_seconds()) // 3600
    hour = np.arange(n_hours)
    weekday = (start.weekday() + hour // 24) % 7
    shape = HOURLY[hour % 24] * WEEKDAY[weekday]
    per_week = np.outer(WEEKDAY, HOURLY).sum()
    counts = rng.poisson(ROWS_PER_WEEK * scale * shape / per_week)
    hour_start = us(start) + hour.astype(np.int64) * HOUR_US
    ts = np.repeat(hour_start, counts) + rng.integers(0, HOUR_US, counts.sum())
    return np.sort(ts)


def users(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """User codes: a pool with heavy-tailed activity."""
    n_users = max(50, round(ROWS_PER_WEEK * scale * USERS_PER_WEEKLY_ROW))
    activity = rng.lognormal(0.0, 1.0, n_users)
    return rng.choice(n_users, n, p=activity / activity.sum())


# --------------------------------------------------------------------------
# Features and clicks.


def features(rng: np.random.Generator, ts: np.ndarray) -> Rows:
    """The model's features, per request, independent of users and items.

    Categoricals are integer codes into DEVICES, REGIONS and CATEGORIES.
    """
    n = ts.size
    drifted = ts >= us(week_start(DRIFT_WEEK))
    price = np.exp(rng.normal(math.log(PRICE_MEDIAN), PRICE_SIGMA, n))
    price = np.round(np.where(drifted, price * PRICE_INFLATION, price), 2)
    # 40% of slots carry no discount; the others mostly modest ones.
    discount = np.clip(np.round(60 * rng.beta(1.6, 3.0, n)), 1, 60).astype(np.int64)
    discount[rng.random(n) < 0.4] = 0
    device = np.where(
        drifted,
        rng.choice(len(DEVICES), n, p=DEVICE_SHARES_DRIFTED),
        rng.choice(len(DEVICES), n, p=DEVICE_SHARES),
    )
    return {
        "price": price,
        "discount_pct": discount,
        "user_tenure_days": np.floor(rng.gamma(0.7, 400.0, n)).astype(np.int64),
        "item_rating": np.clip(np.round(rng.normal(4.0, 0.55, n), 1), 1.0, 5.0),
        "session_depth": np.minimum(rng.geometric(0.14, n), 30).astype(np.int64),
        "device": device,
        "region": rng.choice(len(REGIONS), n, p=REGION_SHARES),
        "category": rng.choice(len(CATEGORIES), n, p=CATEGORY_SHARES),
    }


def click_probability(rows: Rows) -> np.ndarray:
    """P(click | features, time): fixed, with the discount effect flipped at FLIP_AT."""
    discount_effect = np.where(
        rows["ts"] >= us(FLIP_AT), DISCOUNT_EFFECT_FLIPPED, DISCOUNT_EFFECT
    )
    depth, rating, tenure = rows["session_depth"], rows["item_rating"], rows["user_tenure_days"]
    logit = (
        CLICK_BASE
        + discount_effect * (rows["discount_pct"] - DISCOUNT_CENTRE)
        + LOG_PRICE_EFFECT * np.log(rows["price"] / PRICE_MEDIAN)
        + AFFINITY[rows["category"], rows["region"]]
        + DEVICE_EFFECT[rows["device"]]
        # Non-linear effects a linear model cannot fit: curiosity peaks a few
        # items into a session, ratings matter as thresholds, and tenure acts
        # in cycles (monthly-ish renewal of interest).
        + 1.1 * np.exp(-(((depth - 5) / 3.5) ** 2))
        + np.where(rating >= 4.5, 0.55, 0.0)
        - np.where(rating < 3.5, 0.45, 0.0)
        - 0.12 * np.log1p(tenure / 30)
        + 0.4 * np.sin(tenure / 120)
    )
    return 1.0 / (1.0 + np.exp(-logit))


# --------------------------------------------------------------------------
# Exposures (the feedback loop).


def exposure_schedule(day: int) -> tuple[float, float]:
    """(share of model-driven exposures, rich-get-richer exponent) on a day.

    Days count from TRAINING_START. Before version 2, 60% of the feed is
    ranked by the model with a weak popularity pull; from version 2 on, 85%,
    with a pull that grows every week.

    >>> exposure_schedule(0)
    (0.6, 0.35)
    >>> exposure_schedule((LOGS_START - TRAINING_START).days + 7)
    (0.85, 0.645)
    """
    log_day = day - (LOGS_START - TRAINING_START).days
    if log_day < 0:
        return MODEL_SHARE_BEFORE_V2, ALPHA_BEFORE_V2
    return MODEL_SHARE_V2, ALPHA_WEEK_1 + ALPHA_STEP * (log_day // 7)


def exposures(rng: np.random.Generator, ts: np.ndarray, end: dt.datetime,
              mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Item codes and the ``shown`` flag of every request.

    Model-driven exposures pick item i with probability proportional to
    ``appeal_i * (floor + recent_i / mean(recent)) ** alpha``, where
    ``recent`` is the exponentially decayed count of past exposures, updated
    once a day. The rest is exploration: uniform over the catalogue.
    """
    n_days = (end - TRAINING_START).days
    day = (ts - us(TRAINING_START)) // DAY_US
    bounds = np.searchsorted(day, np.arange(n_days + 1))
    item = np.empty(ts.size, dtype=np.int64)
    shown = np.zeros(ts.size, dtype=bool)
    if mode == "randomised":
        item[:] = rng.integers(0, N_ITEMS, ts.size)
        return item, shown
    appeal = rng.lognormal(0.0, APPEAL_SIGMA, N_ITEMS)
    recent = appeal / appeal.mean()  # a warm start close to the early steady state
    for d in range(n_days):
        today = slice(bounds[d], bounds[d + 1])
        n = bounds[d + 1] - bounds[d]
        share, alpha = exposure_schedule(d)
        by_model = rng.random(n) < share
        weight = appeal * (EXPOSURE_FLOOR + recent / recent.mean()) ** alpha
        picked = np.empty(n, dtype=np.int64)
        picked[by_model] = rng.choice(N_ITEMS, by_model.sum(), p=weight / weight.sum())
        picked[~by_model] = rng.integers(0, N_ITEMS, n - by_model.sum())
        item[today], shown[today] = picked, by_model
        recent = EXPOSURE_DECAY * recent + np.bincount(picked, minlength=N_ITEMS)
    return item, shown


# --------------------------------------------------------------------------
# Serving and labels (logged requests only).


def serving(rng: np.random.Generator, rows: Rows, v1, v2) -> Rows:
    """Serving version, score, latency and error of every logged request."""
    ts, n = rows["ts"], rows["ts"].size
    rollout = ts < us(LOGS_START + dt.timedelta(days=ROLLOUT_DAYS))
    by_v1 = rollout & (rng.random(n) < ROLLOUT_V1_SHARE)
    frame = feature_frame(rows)
    score = np.empty(n)
    for model, served in ((v1, by_v1), (v2, ~by_v1)):
        if served.any():
            score[served] = model.predict_proba(frame[served])[:, 1]

    latency_week = (ts >= us(week_start(LATENCY_WEEK))) & (ts < us(week_start(LATENCY_WEEK + 1)))
    median = np.where(latency_week, LATENCY_MEDIAN_MS * LATENCY_MULTIPLIER, LATENCY_MEDIAN_MS)
    latency = median * np.exp(rng.normal(0.0, LATENCY_SIGMA, n))
    error = np.where(rng.random(n) < ERROR_RATE, rng.integers(0, len(ERROR_CODES), n), -1)
    # A timed-out request is answered when the budget runs out.
    timed_out = error == ERROR_CODES.index("timeout")
    latency[timed_out] = TIMEOUT_MS + rng.exponential(5.0, timed_out.sum())
    return {
        "by_v1": by_v1,
        "score": score,
        "latency_ms": np.round(latency, 1),
        "error": error,
    }


def labels(rng: np.random.Generator, rows: Rows, labelled_until: dt.datetime) -> Rows:
    """Which logged requests have a label, and when it arrived."""
    n = rows["ts"].size
    delay_h = np.clip(
        rng.lognormal(math.log(LABEL_DELAY_MEDIAN_H), LABEL_DELAY_SIGMA, n),
        5 / 60, LABEL_DELAY_MAX_H,
    )
    never = rng.random(n) < NEVER_LABELLED_SHARE
    labelled = (rows["ts"] < us(labelled_until)) & ~never
    arrived = rows["ts"] + np.round(delay_h * HOUR_US).astype(np.int64)
    return {"labelled": labelled, "labelled_at": arrived}
