"""The decision rule of a feedback figure: its band, its limits, and :func:`mlmon_nb.rules.decide`.

As for data drift, a check needs both significance and size. A figure's *band*
is the mean ± 3 sd of its values over the baseline chunks (plus
``thresholds.band_margin`` sd); the window's value is the mean of its chunks'
values. Only the direction that signals a loop counts (Gini, top shares,
homogenisation and rich-get-richer up; entropy and coverage down). Outside the
band is ``warn``; outside the band *and* moved by at least the measure's
material change (:data:`~mlmon_nb.feedback.measures.MEASURES`: e.g. Gini +0.05,
top-1% share x1.5, coverage x0.9, Jaccard x2, rich-get-richer rho +0.2) is
``alert``. The sd is the day-to-day sd, not shrunk by the number of window
days (neighbouring days are not independent), and the material change keeps
large traffic, where every day is precise, from turning a small real shift
into an alert. ``thresholds.metrics.<subject>: {warn, alert}`` in mlmon.yaml
replaces both by fixed limits.

:func:`limits` turns a band (or fixed limits) into the warn and alert limits
and the figures a table shows (band, z, the rule in words);
:func:`mlmon_nb.rules.decide` turns a value and those limits into the status.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from ..config import Thresholds
from ..errors import UsageError
from ..rules import Band, decide, sigmas, within_range
from .measures import MEASURES, Measure

__all__ = ["Assessment", "Limits", "assess", "fixed_limits", "limits"]

MIN_RELATIVE_SD = 1e-3
"""Smallest sd as a share of the band's mean: a constant baseline must not make every change an alert."""


@dataclass(frozen=True)
class Limits:
    """How a window figure is judged: warn and alert limits, and the band they come from.

    Attributes
    ----------
    warn_limit, alert_limit : float or None
        The limits :func:`mlmon_nb.rules.decide` compares the value with (None: nothing to decide on).
    rule : str
        The rule in words (shown in the check's details).
    baseline_mean, band_low, band_high, sd : float or None
        The band over the baseline chunks (None without one).
    """

    warn_limit: float | None
    alert_limit: float | None
    rule: str
    baseline_mean: float | None = None
    band_low: float | None = None
    band_high: float | None = None
    sd: float | None = None
    note: str | None = None
    compared_with: str | None = None

    def z(self, value: float) -> float | None:
        """Distance of ``value`` from the baseline mean in baseline sds (None without a band)."""
        if self.sd is None or not math.isfinite(value):
            return None
        return (value - self.baseline_mean) / self.sd


def limits(band: Band | None, worse: str, *, margin: float = 0.0, material: tuple[str, float] | None = None,
           fixed: Mapping[str, float] | None = None, measure: str = "") -> Limits:
    """The warn and alert limits of a figure from its baseline band (or fixed limits).

    Parameters
    ----------
    band : Band or None
        Natural variability over the baseline chunks (not size-scaled).
    worse : {"up", "down"}
        Which direction signals a feedback loop; the other never warns.
    margin : float
        Extra standard deviations (``thresholds.band_margin``).
    material : (str, float), optional
        ``("abs", d)``: a change of at least ``d``; ``("ratio", f)``: the value
        at least ``f`` times the baseline mean (``f < 1`` for falling figures).
        Outside the band warns; outside the band and material alerts. Without
        it, outside the band alerts.
    fixed : mapping, optional
        ``{"warn": x, "alert": y}``: fixed limits replacing the band's.
    measure : str
        The figure's name: its limits stay inside what it can take
        (:func:`mlmon_nb.rules.within_range`; the material change decides when the band would not).

    With a trend through the baseline chunks, the band is around the trend's
    healthiest end with the spread around the trend (:meth:`mlmon_nb.rules.Band.centre`).

    Examples
    --------
    >>> b = Band(mean=0.5, sd=0.01, low_seen=0.48, high_seen=0.52, chunk_rows=600, n_chunks=20,
    ...          scales_with_size=False)
    >>> lim = limits(b, "up", material=("abs", 0.05))
    >>> round(lim.warn_limit, 3), round(lim.alert_limit, 3)
    (0.53, 0.55)
    >>> [decide(v, lim.warn_limit, lim.alert_limit) for v in (0.52, 0.54, 0.56)]
    ['ok', 'warn', 'alert']
    >>> decide(0.40, lim.warn_limit, lim.alert_limit)
    'ok'
    """
    if worse not in ("up", "down"):
        raise UsageError(f"The 'worse' parameter of limits must be 'up' or 'down'. Got {worse!r} instead.")
    sign = 1.0 if worse == "up" else -1.0
    warn_limit = alert_limit = None
    rule = "no baseline band"
    mean = low = high = sd = None
    note = compared = None
    if band is not None and math.isfinite(band.mean):
        k = sigmas(margin)
        # A trending baseline is judged from its healthiest end, with the spread around its trend.
        centre = band.centre(worse)
        sd = band.spread if math.isfinite(band.spread) else 0.0
        sd = max(sd, MIN_RELATIVE_SD * abs(centre), 1e-12)
        mean, low, high = centre, centre - k * sd, centre + k * sd
        warn_limit = alert_limit = centre + sign * k * sd
        compared = band.compared_with(worse)
        anchor = "mean" if not band.trending else "trend's " + ("start" if "earliest" in compared else "end")
        rule = f"outside baseline {anchor} {'+' if sign > 0 else '-'} {k:g} sd"
        floor = None
        if material is not None:
            kind, amount = material
            delta = amount if kind == "abs" else abs(amount - 1.0) * abs(centre)
            floor = centre + sign * delta
            alert_limit = centre + sign * max(k * sd, delta)
            what = f"{'+' if sign > 0 else '-'}{amount:g}" if kind == "abs" else f"x{amount:g}"
            rule += f" warns; also a material change ({what}) alerts"
        else:
            rule += " alerts"
        alert_limit, note = within_range(alert_limit, measure, floor)
        warn_limit, warn_note = within_range(warn_limit, measure, floor if floor is not None else centre)
        if warn_note and alert_limit is not None and sign * (warn_limit - alert_limit) > 0:
            warn_limit = alert_limit
        low, _ = within_range(low, measure, centre)
        high, _ = within_range(high, measure, centre)
        note = note or warn_note
    if fixed:
        warn_limit = float(fixed.get("warn", fixed.get("alert", warn_limit)))
        alert_limit = float(fixed.get("alert", alert_limit if alert_limit is not None else warn_limit))
        rule = f"fixed limits from mlmon.yaml (warn {warn_limit:g}, alert {alert_limit:g})"
    return Limits(warn_limit=warn_limit, alert_limit=alert_limit, rule=rule, baseline_mean=mean,
                  band_low=low, band_high=high, sd=sd, note=note, compared_with=compared)


def fixed_limits(thresholds: Thresholds, subject: str) -> dict[str, float] | None:
    """The ``{warn, alert}`` limits ``thresholds.metrics.<subject>`` sets (None when none)."""
    block = thresholds.metric(subject) or {}
    fixed = {k: float(block[k]) for k in ("warn", "alert") if block.get(k) is not None}
    return fixed or None


@dataclass(frozen=True)
class Assessment:
    """One figure of the window against its baseline band (or fixed limits), and the resulting status."""

    subject: str
    value: float
    status: str
    method: str
    rule: str
    baseline_mean: float | None = None
    band_low: float | None = None
    band_high: float | None = None
    warn_limit: float | None = None
    alert_limit: float | None = None
    z: float | None = None
    chunks: int | None = None
    baseline_chunks: int | None = None
    note: str | None = None
    compared_with: str | None = None
    trend: str | None = None

    @property
    def measure(self) -> Measure:
        return MEASURES[self.subject]


def assess(measure: Measure, value: float, band: Band | None, thresholds: Thresholds, *,
           chunks: int | None = None) -> Assessment:
    """The window's ``value`` of a figure judged against its baseline band and ``thresholds``."""
    lim = limits(band, measure.worse, margin=thresholds.band_margin, material=measure.material,
                 fixed=fixed_limits(thresholds, measure.name), measure=measure.name)
    trend = band.trend_sentence(measure.phrase) if band is not None else None
    return Assessment(
        subject=measure.name, value=value, status=decide(value, lim.warn_limit, lim.alert_limit, worse=measure.worse),
        method=measure.method, rule=lim.rule, baseline_mean=lim.baseline_mean, band_low=lim.band_low,
        band_high=lim.band_high, warn_limit=lim.warn_limit, alert_limit=lim.alert_limit, z=lim.z(value),
        chunks=chunks, baseline_chunks=band.n_chunks if band else None, note=lim.note,
        compared_with=lim.compared_with, trend=trend)
