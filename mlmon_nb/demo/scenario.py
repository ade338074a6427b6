"""The demo's scenario: a click-through-rate model ranking a product feed.

Every planted event and every parameter of the simulation lives here, so that
the generator (:mod:`.generate`), the files (:mod:`.write`) and the recorded
truth (:mod:`.truth`) read the same numbers.

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
import math
from statistics import NormalDist

import numpy as np

MODEL_NAME = "ctr-ranker"
MONITORED_VERSION = "2"
EXPOSURE_MODES = ("model", "randomised")

# --------------------------------------------------------------------------
# Timeline.

UTC = dt.timezone.utc
US = 1_000_000  # microseconds per second: timestamps are int64 microseconds
HOUR_US = 3600 * US
DAY_US = 24 * HOUR_US
WEEK = dt.timedelta(days=7)

TRAINING_START = dt.datetime(2026, 7, 13, tzinfo=UTC)
REFERENCE_START = dt.datetime(2026, 8, 10, tzinfo=UTC)
LOGS_START = dt.datetime(2026, 9, 7, tzinfo=UTC)
V1_DEPLOYED = dt.date(2026, 7, 13)
V2_DEPLOYED = dt.date(2026, 9, 7)

ROLLOUT_DAYS = 2
ROLLOUT_V1_SHARE = 0.10
LATENCY_WEEK = 4
LATENCY_MULTIPLIER = 2.0
DRIFT_WEEK = 5
FLIP_AT = dt.datetime(2026, 10, 28, 12, tzinfo=UTC)
LABEL_CUTOFF = dt.timedelta(days=3)  # requests this close to the end have no label yet
NEVER_LABELLED_SHARE = 0.02

# --------------------------------------------------------------------------
# Traffic.

ROWS_PER_WEEK = 20_000
#: Relative traffic per hour of the day (UTC): night trough, evening peak.
HOURLY = np.array([
    0.45, 0.30, 0.22, 0.18, 0.18, 0.25, 0.45, 0.70, 0.85, 0.90, 0.92, 0.95,
    1.00, 0.98, 0.95, 0.95, 1.00, 1.10, 1.30, 1.50, 1.60, 1.45, 1.10, 0.75,
])
#: Relative traffic per day of the week, Monday first: weekends are busier.
WEEKDAY = np.array([0.95, 0.93, 0.95, 0.97, 1.02, 1.12, 1.10])
USERS_PER_WEEKLY_ROW = 0.6  # user pool size relative to weekly traffic

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
#: The labels of each categorical feature's integer codes, in CATEGORICAL's order.
CATEGORICAL_LABELS = (DEVICES, REGIONS, CATEGORIES)
PRICE_MEDIAN = 35.0
PRICE_SIGMA = 0.65
PRICE_INFLATION = 1.3

#: Click model: logit = base + effects. These are the truth, independent of the seed.
CLICK_BASE = -3.5
DISCOUNT_CENTRE = 12.0  # about the mean discount, so the flip barely moves the CTR
DISCOUNT_EFFECT = 0.035  # per discount point, before the flip
DISCOUNT_EFFECT_FLIPPED = -0.040  # after it
LOG_PRICE_EFFECT = -0.8
DEVICE_EFFECT = np.array([0.15, 0.0, -0.25])
#: Category (rows) x region (columns) affinities.
AFFINITY = np.array([
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
APPEAL_SIGMA = 0.4  # spread of the items' intrinsic appeal
EXPOSURE_DECAY = 0.9  # per day: the popularity the ranker sees is recent exposure
EXPOSURE_FLOOR = 0.05  # keeps never-shown items reachable
MODEL_SHARE_BEFORE_V2 = 0.60
MODEL_SHARE_V2 = 0.85
ALPHA_BEFORE_V2 = 0.35
ALPHA_WEEK_1 = 0.60
ALPHA_STEP = 0.045  # added every log week: the loop tightens

# --------------------------------------------------------------------------
# Operations and labels.

LATENCY_MEDIAN_MS = 40.0
LATENCY_P95_MS = 110.0
LATENCY_SIGMA = math.log(LATENCY_P95_MS / LATENCY_MEDIAN_MS) / NormalDist().inv_cdf(0.95)
ERROR_RATE = 0.003
ERROR_CODES = ("timeout", "upstream_5xx")
TIMEOUT_MS = 1000.0
LABEL_DELAY_MEDIAN_H = 6.0
LABEL_DELAY_SIGMA = 0.9
LABEL_DELAY_MAX_H = 48.0


def us(moment: dt.datetime) -> int:
    """``moment`` as int64 microseconds since the epoch, the timestamps' unit.

    >>> us(LOGS_START) - us(REFERENCE_START) == 28 * DAY_US
    True
    """
    return int(moment.timestamp()) * US


def week_start(week: int) -> dt.datetime:
    """The start of log week ``week`` (1 is the first log week).

    >>> week_start(DRIFT_WEEK).date().isoformat()
    '2026-10-05'
    """
    return LOGS_START + (week - 1) * WEEK
