"""When did a shift begin? A cheap daily look-back over the logs before a window.

When a covariate shift is already present at a window's start and the archive
holds no earlier run to say since when, the onset is found from the logs
themselves: one DuckDB aggregation over the ``weeks`` before the window counts,
per day, each shifted feature's values on the baseline's histogram bins
(numeric) or levels (categorical). A day is shifted when its population
stability index against the baseline's shares is beyond the feature's PSI band
at that day's rows (``drift/psi/<feature>``). The onset is the first day of the
unbroken run of shifted days that reaches the window's start. Only aggregates
cross into Python: the cost does not grow with the rows beyond one scan.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Sequence

import numpy as np

from .baseline import Baseline
from .config import ModelConfig
from .data import time_filter
from .errors import DataError
from .profiles import edges_of
from .rules import band_limits
from .sources import connect, describe, literal, quote, resolve_source
from .shape import psi_shares

logger = logging.getLogger(__name__)

LOOKBACK_WEEKS = 4
MIN_DAY_ROWS = 50


def onset(model: ModelConfig, baseline: Baseline, features: Sequence[str], window_start: dt.datetime,
          weeks: int = LOOKBACK_WEEKS, con=None) -> str | None:
    """The first day (ISO, UTC midnight) of the shift that reaches ``window_start``, or None.

    None when the day before the window was not shifted (the shift began inside the
    window), or when the logs before the window cannot tell (no rows, no band).
    """
    con = con or connect()
    try:
        source = resolve_source(model.logs, f"models.{model.name}.logs")
        types = describe(source, con)
    except DataError as exc:
        logger.info("onset look-back skipped: %s", exc)
        return None
    ts = model.timestamp
    if ts not in types:
        return None
    start = window_start - dt.timedelta(weeks=weeks)
    where = time_filter(ts, types[ts], start, window_start)
    day = f"CAST(date_trunc('day', CAST({quote(ts)} AS TIMESTAMPTZ)) AS DATE)"
    shifted_days: dict[str, list[bool]] = {}
    for name in features:
        if name not in types or name not in baseline.manifest["profiles"]:
            continue
        profile = baseline.profile(name)
        band = baseline.band("drift", "psi", name)
        if band is None:
            continue
        if profile["kind"] == "numeric":
            edges = edges_of(profile)[1:-1]
            ref = np.asarray(profile["bin_shares"], dtype=float)
            bucket = (f"(CASE WHEN {quote(name)} IS NULL THEN NULL ELSE " + " + ".join(
                [f"(CAST({quote(name)} AS DOUBLE) > {float(e)!r})::INT" for e in edges] or ["0"]) + " END)")
        else:
            levels = list(profile["frequencies"])
            ref = np.array([profile["frequencies"][k] for k in levels] + [profile["other_share"]], dtype=float)
            cases = " ".join(f"WHEN CAST({quote(name)} AS VARCHAR) = {literal(lv)} THEN {i}"
                             for i, lv in enumerate(levels))
            bucket = f"(CASE WHEN {quote(name)} IS NULL THEN NULL {cases} ELSE {len(levels)} END)"
        sql = (f"SELECT {day} AS d, {bucket} AS b, count(*) AS n FROM {source.relation} WHERE {where} "
               f"GROUP BY 1, 2 HAVING b IS NOT NULL ORDER BY 1")
        try:
            rows = con.execute(sql).fetchall()
        except Exception as exc:  # noqa: BLE001 (DuckDB raises many types; a look-back is best effort)
            logger.info("onset look-back of %s skipped: %s", name, exc)
            continue
        per_day: dict[str, np.ndarray] = {}
        for d, b, n in rows:
            counts = per_day.setdefault(str(d), np.zeros(len(ref)))
            counts[int(b)] += n
        for d, counts in per_day.items():
            total = counts.sum()
            if total < MIN_DAY_ROWS:
                continue
            _, high = band_limits(band, total)
            value = psi_shares(ref, counts / total)
            shifted_days.setdefault(d, []).append(high is not None and value > high)
    if not shifted_days:
        return None
    days = sorted(shifted_days)
    last_day = (window_start - dt.timedelta(days=1)).date().isoformat()
    if last_day not in shifted_days or not any(shifted_days[last_day]):
        return None
    first = last_day
    for d in reversed(days):
        if d > last_day:
            continue
        if not any(shifted_days[d]):
            break
        first = d
    return dt.datetime.fromisoformat(first).replace(tzinfo=dt.timezone.utc).isoformat()
