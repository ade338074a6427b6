"""The bundled demo scenario: a click-through-rate model ranking a product feed.

:func:`build_demo` writes a complete, seeded monitoring project: a reference
period, weekly production logs, late-arriving labels, two trained model
versions and the ``mlmon.yaml`` that ties them together, plus
``ground_truth.json``, which records every injected event and the figures
measured from the generated data, so that tests can check that the notebooks
find what was planted.

Timeline (UTC, all weeks start on Monday)::

    2026-07-13 .. 2026-08-10   training period: both model versions are fit on it
    2026-08-10 .. 2026-09-07   reference period (data/reference.parquet)
    2026-09-07 .. +weeks       production logs, one window per week (week 1, 2, ...)

Injected events (a log week that is not generated simply has none):

- rollout: during the first 2 days of week 1, 10% of requests are still
  served by version "1"; every other logged request is served by "2";
- latency regression in week 4 only: latency median and p95 double;
- covariate drift from week 5 on: ``price`` is inflated by 1.3 and the device
  mix moves to mobile 75% / desktop 20% / tablet 5%. P(click | features) does
  not change, and no other feature changes its distribution in any week;
- concept drift at 2026-10-28T12:00Z (week 8): the effect of ``discount_pct``
  on the click probability flips sign (users tired of discounts), so the
  realized ROC AUC of version "2" drops clearly;
- feedback loop (``exposure="model"``): model-driven exposures pick items by a
  rich-get-richer rule whose strength grows every log week, so exposures
  concentrate on fewer items week after week. ``exposure="randomised"`` is the
  control: every item is drawn uniformly at random and no row is marked as
  shown by the model, so concentration stays flat.

Traffic follows a daily curve (night trough, evening peak) and a weekly curve
(weekends higher), Poisson around ``20_000 * scale`` requests per week.

Simplifications, on purpose:

- The monitored features are drawn per request, independently of ``item_id``,
  ``user_id`` and the exposure mechanism (``category``, ``price`` and
  ``item_rating`` describe the feed slot, not a catalogue entry). The feedback
  loop therefore only concentrates ``item_id`` exposure and never leaks into
  covariate drift, and the click probability depends on the features alone.
- ``from_model`` (training provenance) equals ``shown``: a row was produced
  under the model's influence exactly when the model placed the item.
- Label delay does not depend on the outcome.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import numbers
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import skops.io
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlmon_nb.errors import UsageError

logger = logging.getLogger(__name__)

MODEL_NAME = "ctr-ranker"
MONITORED_VERSION = "2"
EXPOSURE_MODES = ("model", "randomised")
GROUND_TRUTH_SCHEMA = "mlmon.demo-ground-truth/1"

# --------------------------------------------------------------------------
# Timeline.

_UTC = dt.timezone.utc
_US = 1_000_000  # microseconds per second: timestamps are int64 microseconds
_HOUR_US = 3600 * _US
_DAY_US = 24 * _HOUR_US
_WEEK = dt.timedelta(days=7)

TRAINING_START = dt.datetime(2026, 7, 13, tzinfo=_UTC)
REFERENCE_START = dt.datetime(2026, 8, 10, tzinfo=_UTC)
LOGS_START = dt.datetime(2026, 9, 7, tzinfo=_UTC)
V1_DEPLOYED = dt.date(2026, 7, 13)
V2_DEPLOYED = dt.date(2026, 9, 7)

ROLLOUT_DAYS = 2
ROLLOUT_V1_SHARE = 0.10
LATENCY_WEEK = 4
LATENCY_MULTIPLIER = 2.0
DRIFT_WEEK = 5
FLIP_AT = dt.datetime(2026, 10, 28, 12, tzinfo=_UTC)
LABEL_CUTOFF = dt.timedelta(days=3)  # requests this close to the end have no label yet
NEVER_LABELLED_SHARE = 0.02

# --------------------------------------------------------------------------
# Traffic.

ROWS_PER_WEEK = 20_000
#: Relative traffic per hour of the day (UTC): night trough, evening peak.
_HOURLY = np.array([
    0.45, 0.30, 0.22, 0.18, 0.18, 0.25, 0.45, 0.70, 0.85, 0.90, 0.92, 0.95,
    1.00, 0.98, 0.95, 0.95, 1.00, 1.10, 1.30, 1.50, 1.60, 1.45, 1.10, 0.75,
])
#: Relative traffic per day of the week, Monday first: weekends are busier.
_WEEKDAY = np.array([0.95, 0.93, 0.95, 0.97, 1.02, 1.12, 1.10])
_USERS_PER_WEEKLY_ROW = 0.6  # user pool size relative to weekly traffic

# --------------------------------------------------------------------------
# Features and the click model.

NUMERIC = ("price", "discount_pct", "user_tenure_days", "item_rating", "session_depth")
CATEGORICAL = ("device", "region", "category")
FEATURES = NUMERIC + CATEGORICAL
SEGMENTS = ("device", "region")

DEVICES = ("mobile", "desktop", "tablet")
DEVICE_SHARES = (0.55, 0.35, 0.10)
DEVICE_SHARES_DRIFTED = (0.75, 0.20, 0.05)
REGIONS = ("na", "eu", "apac", "latam")
REGION_SHARES = (0.35, 0.30, 0.25, 0.10)
CATEGORIES = ("electronics", "fashion", "home", "beauty", "sports", "books", "toys", "grocery")
CATEGORY_SHARES = (0.18, 0.17, 0.14, 0.12, 0.11, 0.10, 0.10, 0.08)
PRICE_MEDIAN = 35.0
PRICE_SIGMA = 0.65
PRICE_INFLATION = 1.3

#: Click model: logit = base + effects. These are the truth, independent of the seed.
_CLICK_BASE = -3.5
_DISCOUNT_CENTRE = 12.0  # about the mean discount, so the flip barely moves the CTR
DISCOUNT_EFFECT = 0.035  # per discount point, before the flip
DISCOUNT_EFFECT_FLIPPED = -0.040  # after it
_LOG_PRICE_EFFECT = -0.8
_DEVICE_EFFECT = np.array([0.15, 0.0, -0.25])
#: Category (rows) x region (columns) affinities.
_AFFINITY = np.array([
    [0.30, 0.10, 0.45, -0.10],
    [0.10, 0.40, -0.20, 0.30],
    [0.20, 0.15, -0.30, -0.10],
    [-0.10, 0.30, 0.35, 0.25],
    [0.15, -0.10, -0.15, 0.40],
    [-0.30, -0.05, 0.10, -0.35],
    [0.05, -0.20, 0.20, 0.10],
    [-0.40, -0.25, -0.40, -0.20],
])

# --------------------------------------------------------------------------
# Exposure (feedback loop).

N_ITEMS = 2000
_APPEAL_SIGMA = 0.4  # spread of the items' intrinsic appeal
_EXPOSURE_DECAY = 0.9  # per day: the popularity the ranker sees is recent exposure
_EXPOSURE_FLOOR = 0.05  # keeps never-shown items reachable
MODEL_SHARE_BEFORE_V2 = 0.60
MODEL_SHARE_V2 = 0.85
_ALPHA_BEFORE_V2 = 0.35
_ALPHA_WEEK_1 = 0.60
_ALPHA_STEP = 0.045  # added every log week: the loop tightens

# --------------------------------------------------------------------------
# Operations and labels.

LATENCY_MEDIAN_MS = 40.0
LATENCY_P95_MS = 110.0
_LATENCY_SIGMA = math.log(LATENCY_P95_MS / LATENCY_MEDIAN_MS) / NormalDist().inv_cdf(0.95)
ERROR_RATE = 0.003
ERROR_CODES = ("timeout", "upstream_5xx")
_TIMEOUT_MS = 1000.0
_LABEL_DELAY_MEDIAN_H = 6.0
_LABEL_DELAY_SIGMA = 0.9
_LABEL_DELAY_MAX_H = 48.0

_LOG_ROW_GROUP = 1024
_REFERENCE_ROW_GROUP = 16_384


@dataclass(frozen=True)
class DemoProject:
    """A demo project written by :func:`build_demo`.

    Attributes
    ----------
    root : Path
        The folder holding the project (``out_dir``).
    project_path : Path
        ``root / "mlmon.yaml"``.
    model : str
        The model's name in the project file (``"ctr-ranker"``).
    version : str
        The version the demo monitors (``"2"``).
    windows : tuple of (datetime, datetime)
        The weekly log windows ``[start, end)``, tz-aware UTC.
    ground_truth : dict
        What was planted and what was measured; also in
        ``root / "ground_truth.json"``.
    """

    root: Path
    project_path: Path
    model: str
    version: str
    windows: tuple[tuple[dt.datetime, dt.datetime], ...]
    ground_truth: dict


def build_demo(
    out_dir: str | os.PathLike,
    *,
    scale: float = 1.0,
    weeks: int = 10,
    seed: int = 0,
    exposure: str = "model",
) -> DemoProject:
    """Write the demo project into ``out_dir``.

    Parameters
    ----------
    out_dir : str or path-like
        Folder to write into; it must be missing or empty. On failure,
        everything written is removed again.
    scale : float, default=1.0
        Traffic multiplier: about ``20_000 * scale`` requests per week.
    weeks : int, default=10
        Number of weekly log windows, starting Monday 2026-09-07.
    seed : int, default=0
        Seed of the only random generator; the same arguments write the same data.
    exposure : {"model", "randomised"}, default="model"
        ``"model"``: the ranker picks most exposures and concentrates them
        (the feedback loop). ``"randomised"``: the control, every exposure is
        uniform at random and ``shown`` is False everywhere.

    Returns
    -------
    DemoProject

    Raises
    ------
    UsageError
        When an argument is invalid.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     demo = build_demo(Path(folder) / "demo", scale=0.01, weeks=2)
    ...     sorted(path.name for path in demo.root.iterdir())
    ['data', 'ground_truth.json', 'mlmon.yaml', 'models']
    >>> demo.model, demo.version, demo.windows[0][0].isoformat()
    ('ctr-ranker', '2', '2026-09-07T00:00:00+00:00')
    >>> demo.ground_truth["drifted_features"]  # week 5 is not generated
    []
    """
    root = _check_arguments(out_dir, scale, weeks, seed, exposure)
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    try:
        return _build(root, float(scale), int(weeks), int(seed), exposure)
    except BaseException:
        # The folder was missing or empty, so everything in it is ours.
        _remove_contents(root, remove_root=created)
        raise


# --------------------------------------------------------------------------
# Arguments.


def _usage(name: str, expected: str, got: Any, why: str = "") -> UsageError:
    return UsageError(
        f"The {name!r} parameter of build_demo must be {expected}. Got {got!r} instead{why}."
    )


def _check_arguments(out_dir, scale, weeks, seed, exposure) -> Path:
    if not isinstance(out_dir, (str, os.PathLike)):
        raise _usage("out_dir", "a str or path-like", out_dir)
    root = Path(out_dir).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise _usage("out_dir", "a missing or empty directory", str(out_dir), ", which is a file")
    if root.is_dir() and any(root.iterdir()):
        raise _usage("out_dir", "a missing or empty directory", str(out_dir),
                     ", which is not empty")
    if (
        isinstance(scale, bool)
        or not isinstance(scale, numbers.Real)
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise _usage("scale", "a float > 0", scale)
    if isinstance(weeks, bool) or not isinstance(weeks, numbers.Integral) or weeks < 1:
        raise _usage("weeks", "an int >= 1", weeks)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise _usage("seed", "an int >= 0", seed)
    if not isinstance(exposure, str) or exposure not in EXPOSURE_MODES:
        modes = ", ".join(repr(mode) for mode in EXPOSURE_MODES)
        raise _usage("exposure", f"a str among {{{modes}}}", exposure)
    return root


def _remove_contents(root: Path, *, remove_root: bool) -> None:
    if remove_root:
        shutil.rmtree(root, ignore_errors=True)
        return
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


# --------------------------------------------------------------------------
# The build.


def _build(root: Path, scale: float, weeks: int, seed: int, exposure: str) -> DemoProject:
    started = time.perf_counter()
    # One generator per concern, so that e.g. the exposure mode changes the
    # items only, while traffic, features and clicks stay identical.
    traffic_rng, feature_rng, exposure_rng, serving_rng, label_rng, model_rng = (
        np.random.default_rng(seed).spawn(6)
    )
    end = LOGS_START + weeks * _WEEK
    windows = tuple((LOGS_START + k * _WEEK, LOGS_START + (k + 1) * _WEEK) for k in range(weeks))

    ts = _traffic(traffic_rng, TRAINING_START, end, scale)
    rows = _features(feature_rng, ts)
    rows["ts"] = ts
    rows["p_click"] = _click_probability(rows)
    rows["clicked"] = feature_rng.random(ts.size) < rows["p_click"]
    rows["user"] = _users(feature_rng, ts.size, scale)
    rows["item"], rows["shown"] = _exposures(exposure_rng, ts, end, exposure)
    logger.info("generated %d requests in %.1fs", ts.size, time.perf_counter() - started)

    training = ts < _us(REFERENCE_START)
    reference = (ts >= _us(REFERENCE_START)) & (ts < _us(LOGS_START))
    logs = ts >= _us(LOGS_START)

    if np.unique(rows["clicked"][training]).size < 2:
        raise _usage("scale", "large enough for the training period to hold clicks and "
                     "non-clicks (0.001 is)", scale)
    v1, v2 = _train(_subset(rows, training), model_rng)
    logger.info("trained both versions in %.1fs", time.perf_counter() - started)

    log_rows = _subset(rows, logs)
    log_rows["request"] = np.flatnonzero(logs)
    log_rows.update(_serving(serving_rng, log_rows, v1, v2))
    labelled_until = end - LABEL_CUTOFF
    labels = _labels(label_rng, log_rows, labelled_until)

    ref_rows = _subset(rows, reference)
    ref_rows["request"] = np.flatnonzero(reference)
    frame = _feature_frame(ref_rows)
    ref_rows["score_v1"] = v1.predict_proba(frame)[:, 1]
    ref_rows["score_v2"] = v2.predict_proba(frame)[:, 1]

    _write_parquet(_reference_table(ref_rows), root / "data" / "reference.parquet",
                   _REFERENCE_ROW_GROUP)
    _write_logs(root / "data" / "logs", log_rows, end)
    _write_parquet(_labels_table(log_rows, labels), root / "data" / "labels" / "part-0.parquet",
                   _REFERENCE_ROW_GROUP)
    _write_models(root / "models" / "ctr", v1, v2)
    project_path = root / "mlmon.yaml"
    project_path.write_text(yaml.safe_dump(_project_file(weeks), sort_keys=False), encoding="utf-8")

    truth = _ground_truth(
        scale=scale, weeks=weeks, seed=seed, exposure=exposure, windows=windows,
        labelled_until=labelled_until, training=_subset(rows, training),
        reference=ref_rows, logs=log_rows, labels=labels,
    )
    (root / "ground_truth.json").write_text(
        json.dumps(truth, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    logger.info("wrote the demo project to %s in %.1fs", root, time.perf_counter() - started)
    return DemoProject(
        root=root,
        project_path=project_path,
        model=MODEL_NAME,
        version=MONITORED_VERSION,
        windows=windows,
        ground_truth=truth,
    )


def _us(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * _US


def _subset(rows: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[mask] for name, values in rows.items()}


# --------------------------------------------------------------------------
# Generation.


def _traffic(rng: np.random.Generator, start: dt.datetime, end: dt.datetime,
             scale: float) -> np.ndarray:
    """Sorted request timestamps (int64 microseconds), Poisson per hour."""
    n_hours = int((end - start).total_seconds()) // 3600
    hour = np.arange(n_hours)
    weekday = (start.weekday() + hour // 24) % 7
    shape = _HOURLY[hour % 24] * _WEEKDAY[weekday]
    per_week = np.outer(_WEEKDAY, _HOURLY).sum()
    counts = rng.poisson(ROWS_PER_WEEK * scale * shape / per_week)
    hour_start = _us(start) + hour.astype(np.int64) * _HOUR_US
    ts = np.repeat(hour_start, counts) + rng.integers(0, _HOUR_US, counts.sum())
    return np.sort(ts)


def _features(rng: np.random.Generator, ts: np.ndarray) -> dict[str, np.ndarray]:
    """The model's features, per request, independent of users and items.

    Categoricals are integer codes into DEVICES, REGIONS and CATEGORIES.
    """
    n = ts.size
    drifted = ts >= _us(LOGS_START + (DRIFT_WEEK - 1) * _WEEK)
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


def _click_probability(rows: dict[str, np.ndarray]) -> np.ndarray:
    """P(click | features, time): fixed, with the discount effect flipped at FLIP_AT."""
    discount_effect = np.where(
        rows["ts"] >= _us(FLIP_AT), DISCOUNT_EFFECT_FLIPPED, DISCOUNT_EFFECT
    )
    depth, rating, tenure = rows["session_depth"], rows["item_rating"], rows["user_tenure_days"]
    logit = (
        _CLICK_BASE
        + discount_effect * (rows["discount_pct"] - _DISCOUNT_CENTRE)
        + _LOG_PRICE_EFFECT * np.log(rows["price"] / PRICE_MEDIAN)
        + _AFFINITY[rows["category"], rows["region"]]
        + _DEVICE_EFFECT[rows["device"]]
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


def _users(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """User codes: a pool with heavy-tailed activity."""
    n_users = max(50, round(ROWS_PER_WEEK * scale * _USERS_PER_WEEKLY_ROW))
    activity = rng.lognormal(0.0, 1.0, n_users)
    return rng.choice(n_users, n, p=activity / activity.sum())


def _exposure_schedule(day: int) -> tuple[float, float]:
    """(share of model-driven exposures, rich-get-richer exponent) on a day.

    Days count from TRAINING_START. Before version 2, 60% of the feed is
    ranked by the model with a weak popularity pull; from version 2 on, 85%,
    with a pull that grows every week.
    """
    log_day = day - (LOGS_START - TRAINING_START).days
    if log_day < 0:
        return MODEL_SHARE_BEFORE_V2, _ALPHA_BEFORE_V2
    return MODEL_SHARE_V2, _ALPHA_WEEK_1 + _ALPHA_STEP * (log_day // 7)


def _exposures(rng: np.random.Generator, ts: np.ndarray, end: dt.datetime,
               mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Item codes and the ``shown`` flag of every request.

    Model-driven exposures pick item i with probability proportional to
    ``appeal_i * (floor + recent_i / mean(recent)) ** alpha``, where
    ``recent`` is the exponentially decayed count of past exposures, updated
    once a day. The rest is exploration: uniform over the catalogue.
    """
    n_days = (end - TRAINING_START).days
    day = (ts - _us(TRAINING_START)) // _DAY_US
    bounds = np.searchsorted(day, np.arange(n_days + 1))
    item = np.empty(ts.size, dtype=np.int64)
    shown = np.zeros(ts.size, dtype=bool)
    if mode == "randomised":
        item[:] = rng.integers(0, N_ITEMS, ts.size)
        return item, shown
    appeal = rng.lognormal(0.0, _APPEAL_SIGMA, N_ITEMS)
    recent = appeal / appeal.mean()  # a warm start close to the early steady state
    for d in range(n_days):
        today = slice(bounds[d], bounds[d + 1])
        n = bounds[d + 1] - bounds[d]
        share, alpha = _exposure_schedule(d)
        by_model = rng.random(n) < share
        weight = appeal * (_EXPOSURE_FLOOR + recent / recent.mean()) ** alpha
        picked = np.empty(n, dtype=np.int64)
        picked[by_model] = rng.choice(N_ITEMS, by_model.sum(), p=weight / weight.sum())
        picked[~by_model] = rng.integers(0, N_ITEMS, n - by_model.sum())
        item[today], shown[today] = picked, by_model
        recent = _EXPOSURE_DECAY * recent + np.bincount(picked, minlength=N_ITEMS)
    return item, shown


def _feature_frame(rows: dict[str, np.ndarray]) -> pd.DataFrame:
    """The raw feature columns as a DataFrame, as the models see them in the files."""
    frame = {name: rows[name] for name in NUMERIC}
    for name, labels in zip(CATEGORICAL, (DEVICES, REGIONS, CATEGORIES)):
        frame[name] = np.asarray(labels, dtype=object)[rows[name]]
    return pd.DataFrame(frame)


def _train(rows: dict[str, np.ndarray], rng: np.random.Generator):
    """Fit version 1 (logistic regression) and version 2 (gradient boosting)."""
    frame, target = _feature_frame(rows), rows["clicked"].astype(np.int64)
    v1 = Pipeline([
        ("prepare", ColumnTransformer([
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
            ("numeric", StandardScaler(), list(NUMERIC)),
        ])),
        ("classify", LogisticRegression(max_iter=1000)),
    ])
    v2 = Pipeline([
        ("prepare", ColumnTransformer([
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
             list(CATEGORICAL)),
            ("numeric", "passthrough", list(NUMERIC)),
        ])),
        ("classify", HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=150, max_leaf_nodes=15, l2_regularization=1.0,
            early_stopping=False, random_state=int(rng.integers(2**31 - 1)),
        )),
    ])
    return v1.fit(frame, target), v2.fit(frame, target)


def _serving(rng: np.random.Generator, rows: dict[str, np.ndarray], v1, v2) -> dict:
    """Serving version, score, latency and error of every logged request."""
    ts, n = rows["ts"], rows["ts"].size
    rollout = ts < _us(LOGS_START + dt.timedelta(days=ROLLOUT_DAYS))
    by_v1 = rollout & (rng.random(n) < ROLLOUT_V1_SHARE)
    frame = _feature_frame(rows)
    score = np.empty(n)
    for model, served in ((v1, by_v1), (v2, ~by_v1)):
        if served.any():
            score[served] = model.predict_proba(frame[served])[:, 1]

    latency_week = (ts >= _us(LOGS_START + (LATENCY_WEEK - 1) * _WEEK)) & (
        ts < _us(LOGS_START + LATENCY_WEEK * _WEEK)
    )
    median = np.where(latency_week, LATENCY_MEDIAN_MS * LATENCY_MULTIPLIER, LATENCY_MEDIAN_MS)
    latency = median * np.exp(rng.normal(0.0, _LATENCY_SIGMA, n))
    error = np.where(rng.random(n) < ERROR_RATE, rng.integers(0, len(ERROR_CODES), n), -1)
    # A timed-out request is answered when the budget runs out.
    timed_out = error == ERROR_CODES.index("timeout")
    latency[timed_out] = _TIMEOUT_MS + rng.exponential(5.0, timed_out.sum())
    return {
        "by_v1": by_v1,
        "score": score,
        "latency_ms": np.round(latency, 1),
        "error": error,
    }


def _labels(rng: np.random.Generator, rows: dict[str, np.ndarray],
            labelled_until: dt.datetime) -> dict[str, np.ndarray]:
    """Which logged requests have a label, and when it arrived."""
    n = rows["ts"].size
    delay_h = np.clip(
        rng.lognormal(math.log(_LABEL_DELAY_MEDIAN_H), _LABEL_DELAY_SIGMA, n),
        5 / 60, _LABEL_DELAY_MAX_H,
    )
    never = rng.random(n) < NEVER_LABELLED_SHARE
    labelled = (rows["ts"] < _us(labelled_until)) & ~never
    arrived = rows["ts"] + np.round(delay_h * _HOUR_US).astype(np.int64)
    return {"labelled": labelled, "labelled_at": arrived}


# --------------------------------------------------------------------------
# Writing.


def _timestamps(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.timestamp("us", tz="UTC"))


def _labels_of(codes: np.ndarray, labels: tuple[str, ...],
               mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(labels, type=pa.string()).take(pa.array(codes, mask=mask))


def _ids(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``values``; wider than ``width`` only if a value needs it."""
    digits = max(width, len(str(int(values.max())))) if values.size else width
    return pa.array(np.strings.add(prefix, np.strings.zfill(values.astype(str), digits)),
                    type=pa.string())


def _request_ids(rows: dict[str, np.ndarray]) -> pa.Array:
    # Numbered over the whole timeline, so unique across reference and logs.
    return _ids("r", rows["request"] + 1, 9)


def _common_columns(rows: dict[str, np.ndarray]) -> dict[str, pa.Array]:
    return {
        "ts": _timestamps(rows["ts"]),
        "request_id": _request_ids(rows),
        "user_id": _ids("u", rows["user"], 6),
        "item_id": _ids("i", rows["item"], 4),
    }


def _feature_columns(rows: dict[str, np.ndarray]) -> dict[str, pa.Array]:
    columns = {name: pa.array(rows[name]) for name in NUMERIC}
    for name, labels in zip(CATEGORICAL, (DEVICES, REGIONS, CATEGORIES)):
        columns[name] = _labels_of(rows[name], labels)
    return columns


def _reference_table(rows: dict[str, np.ndarray]) -> pa.Table:
    return pa.table({
        **_common_columns(rows),
        **_feature_columns(rows),
        "clicked": pa.array(rows["clicked"].astype(np.int64)),
        "from_model": pa.array(rows["shown"]),
        "shown": pa.array(rows["shown"]),
    })


def _logs_table(rows: dict[str, np.ndarray]) -> pa.Table:
    common = _common_columns(rows)
    return pa.table({
        "ts": common["ts"],
        "request_id": common["request_id"],
        "user_id": common["user_id"],
        "item_id": common["item_id"],
        "model_version": pa.array(np.where(rows["by_v1"], "1", "2"), type=pa.string()),
        **_feature_columns(rows),
        "score": pa.array(rows["score"]),
        "shown": pa.array(rows["shown"]),
        "latency_ms": pa.array(rows["latency_ms"]),
        "error_code": _labels_of(np.maximum(rows["error"], 0), ERROR_CODES,
                                 mask=rows["error"] < 0),
    })


def _labels_table(rows: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> pa.Table:
    keep = labels["labelled"]
    order = np.argsort(labels["labelled_at"][keep], kind="stable")  # in order of arrival
    return pa.table({
        "request_id": _request_ids(rows).filter(pa.array(keep)).take(pa.array(order)),
        "clicked": pa.array(rows["clicked"][keep][order].astype(np.int64)),
        "labelled_at": _timestamps(labels["labelled_at"][keep][order]),
    })


def _write_parquet(table: pa.Table, path: Path, row_group: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group)


def _write_logs(folder: Path, rows: dict[str, np.ndarray], end: dt.datetime) -> None:
    """One hive-style partition per day: ``day=YYYY-MM-DD/part-0.parquet``."""
    table = _logs_table(rows)
    n_days = (end - LOGS_START).days
    bounds = np.searchsorted(rows["ts"], _us(LOGS_START) + np.arange(n_days + 1) * _DAY_US)
    for d in range(n_days):
        day = (LOGS_START + dt.timedelta(days=d)).date().isoformat()
        part = table.slice(bounds[d], bounds[d + 1] - bounds[d])
        _write_parquet(part, folder / f"day={day}" / "part-0.parquet", _LOG_ROW_GROUP)


def _write_models(folder: Path, v1, v2) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    skops.io.dump(v1, folder / "1.skops")
    skops.io.dump(v2, folder / "2.skops")


def _project_file(weeks: int) -> dict:
    # The first log weeks (before any injected event) are the healthy operational baseline.
    baseline_end = LOGS_START + _WEEK * min(2, weeks)
    return {
        "archive": "reports",
        "models": {
            MODEL_NAME: {
                "task": "binary_classification",
                "timestamp": "ts",
                "prediction": "score",
                "target": "clicked",
                "features": {"numeric": list(NUMERIC), "categorical": list(CATEGORICAL)},
                "reference": "data/reference.parquet",
                "logs": "data/logs/",
                "labels": {"path": "data/labels/", "key": "request_id"},
                "version_column": "model_version",
                "versions": {
                    "1": {"model": "models/ctr/1.skops", "deployed": V1_DEPLOYED},
                    "2": {"model": "models/ctr/2.skops", "deployed": V2_DEPLOYED},
                },
                "operational": {
                    "latency_ms": "latency_ms",
                    "request_id": "request_id",
                    "error": "error_code",
                },
                "feedback": {
                    "user": "user_id",
                    "item": "item_id",
                    "exposed": "shown",
                    "outcome": "clicked",
                    "training_provenance": "from_model",
                },
                "segments": list(SEGMENTS),
                # A CTR model: at 0.5 it would never predict a click; 0.1 is the serving cut-off.
                "decision_threshold": 0.1,
                "baseline": {"window": f"{LOGS_START.date().isoformat()}/{baseline_end.date().isoformat()}"},
            }
        },
    }


# --------------------------------------------------------------------------
# Ground truth.


def _gini(counts: np.ndarray) -> float | None:
    """Gini coefficient of non-negative counts (0 = equal, towards 1 = concentrated)."""
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
        "exposure_gini": _number(_gini(counts[counts > 0])),
        "exposure_gini_catalogue": _number(_gini(counts)),
        "exposure_gini_shown": _number(_gini(shown_counts[shown_counts > 0])),
        "items_exposed": int((counts > 0).sum()),
        "top_1pct_item_share": _number(
            np.sort(counts)[::-1][: N_ITEMS // 100].sum() / max(counts.sum(), 1)
        ),
        "shown_share": _number(shown.mean()) if shown.size else None,
    }


def _shares(codes: np.ndarray, labels: tuple[str, ...]) -> dict[str, float | None]:
    counts = np.bincount(codes, minlength=len(labels))
    return {label: _number(c / max(codes.size, 1)) for label, c in zip(labels, counts)}


def _week_figures(rows: dict[str, np.ndarray], labels: dict[str, np.ndarray] | None) -> dict:
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


def _weekly(rows: dict[str, np.ndarray], labels: dict[str, np.ndarray] | None,
            start: dt.datetime, n_weeks: int, first_week: int) -> list[dict]:
    weeks = []
    for k in range(n_weeks):
        begin, end = start + k * _WEEK, start + (k + 1) * _WEEK
        mask = (rows["ts"] >= _us(begin)) & (rows["ts"] < _us(end))
        week_labels = None if labels is None else _subset(labels, mask)
        weeks.append({
            "week": first_week + k,
            "start": _iso(begin),
            "end": _iso(end),
            **_week_figures(_subset(rows, mask), week_labels),
        })
    return weeks


def _ground_truth(*, scale, weeks, seed, exposure, windows, labelled_until,
                  training, reference, logs, labels) -> dict:
    end = windows[-1][1]
    drift_start = LOGS_START + (DRIFT_WEEK - 1) * _WEEK
    latency_start = LOGS_START + (LATENCY_WEEK - 1) * _WEEK
    rollout_end = LOGS_START + dt.timedelta(days=ROLLOUT_DAYS)
    drift_occurred = drift_start < end
    drifted = ("price", "device") if drift_occurred else ()
    flip_occurred = FLIP_AT < end
    labelled, v2 = labels["labelled"], ~logs["by_v1"]
    before_flip = logs["ts"] < _us(FLIP_AT)
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
        "events": [
            {
                "kind": "rollout",
                "occurred": True,
                "start": _iso(LOGS_START),
                "end": _iso(rollout_end),
                "old_version": "1",
                "old_version_share": ROLLOUT_V1_SHARE,
                "note": "outside this interval every logged request is served by version 2",
            },
            {
                "kind": "latency_regression",
                "occurred": LATENCY_WEEK <= weeks,
                "week": LATENCY_WEEK,
                "start": _iso(latency_start),
                "end": _iso(latency_start + _WEEK),
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
                "week": (FLIP_AT - LOGS_START) // _WEEK + 1,
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
                "occurred": exposure == "model",
                "mode": exposure,
                "catalogue_items": N_ITEMS,
                "model_driven_share": {
                    "before_v2": MODEL_SHARE_BEFORE_V2 if exposure == "model" else 0.0,
                    "v2": MODEL_SHARE_V2 if exposure == "model" else 0.0,
                },
                "rule": (
                    "model-driven exposures pick item i with probability proportional to "
                    "appeal_i * (0.05 + recent_i / mean(recent)) ** alpha, recent = exposures "
                    "decayed by 0.9 a day; the rest is uniform exploration (shown=False)"
                    if exposure == "model" else
                    "every exposure is uniform over the catalogue; shown and from_model "
                    "are False everywhere"
                ),
                "alpha": {
                    "before_v2": _ALPHA_BEFORE_V2,
                    "weeks": [_number(_ALPHA_WEEK_1 + _ALPHA_STEP * k) for k in range(weeks)],
                } if exposure == "model" else None,
            },
            {
                "kind": "seasonality",
                "occurred": True,
                "rows_per_week": ROWS_PER_WEEK * scale,
                "hourly_profile_utc": _HOURLY.tolist(),
                "weekday_profile_monday_first": _WEEKDAY.tolist(),
            },
        ],
        "labels": {
            "labelled_until": _iso(labelled_until),
            "delay_hours": {"median": _LABEL_DELAY_MEDIAN_H, "max": _LABEL_DELAY_MAX_H},
            "never_labelled_share": NEVER_LABELLED_SHARE,
            "labelled_rows": int(labelled.sum()),
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
        "notes": [
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
        ],
    }


# --------------------------------------------------------------------------
# `mlmon demo`: build, baseline, every weekly window.

DEMO_MARKER = ".mlmon-demo"


def _prepare_out(out: Path) -> None:
    """Clear a previous demo in ``out``; refuse to touch a folder that is not one."""
    import shutil

    if not out.exists():
        return
    if not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    if not any(out.iterdir()):
        return
    if not (out / DEMO_MARKER).is_file():
        raise UsageError(f"--out {out}: folder is not empty and holds no earlier demo; "
                         f"choose another folder or empty it")
    shutil.rmtree(out)


def run_demo(out, *, scale: float = 1.0, weeks: int = 10, seed: int = 0, exposure: str = "model",
             notebooks=None, progress=None, show_progress: bool = False, workers: int | None = None) -> Path:
    """Build the demo, archive its baseline and run every weekly window; return index.html.

    Parameters
    ----------
    out : path
        Folder of the demo project; an earlier demo there is replaced.
    scale, weeks, seed, exposure
        As :func:`build_demo`.
    notebooks : sequence of str, optional
        Window notebooks to run (default: all).
    progress : callable, optional
        Receives one line per step.
    workers : int, optional
        Windows run at the same time (default: 2, or 1 on a single core).

    Returns
    -------
    Path
        The archive's index.html.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    from .archive import write_index
    from .runner import execute_baseline, execute_plan, prepare_baseline, prepare_window_run

    say = progress or (lambda msg: None)
    out = Path(out).resolve()
    _prepare_out(out)
    say(f"building the demo project in {out} (scale {scale:g}, {weeks} weeks, exposure {exposure})")
    demo = build_demo(out, scale=scale, weeks=weeks, seed=seed, exposure=exposure)
    (out / DEMO_MARKER).write_text("built by mlmon demo\n")
    outcome = execute_baseline(prepare_baseline(demo.project_path, demo.model, demo.version),
                               progress=say, show_progress=show_progress)
    if outcome.exit_code:
        raise UsageError(f"the demo's baseline failed; see {outcome.run_dir}")
    plans = [prepare_window_run(demo.project_path, demo.model, demo.version,
                                f"{start.isoformat()}/{end.isoformat()}", notebooks)
             for start, end in demo.windows]

    def run_one(plan):
        label = f"{plan.start.date()}/{plan.end.date()}"
        result = execute_plan(plan, fail_on="never", progress=lambda m: say(f"{label} {m}"),
                              show_progress=False)
        say(f"{label}: {result.summary['status']} — {result.summary['verdict']}")
        return result

    n = workers or (2 if (os.cpu_count() or 1) > 1 else 1)
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(run_one, plans))
    failed = [r.run_dir for r in results if r.summary["status"] == "error"]
    if failed:
        say(f"{len(failed)} window run(s) had a failing notebook: {', '.join(map(str, failed))}")
    from .config import load_project

    return write_index(load_project(demo.project_path).archive)
