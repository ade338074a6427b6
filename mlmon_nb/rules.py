"""Decision rules: bands of natural variability, and the one ``decide()`` every area uses.

A figure of a window (a distance, a performance metric, a latency percentile,
an exposure Gini) is judged against the baseline in one way everywhere:

1. **Band.** The baseline measured the figure on equal, time-ordered chunks
   of the reference; :func:`fit_band` is the one way a :class:`Band` is made
   from those chunk values. It separates three things:

   * **A trend.** The chunk values are tested for a monotone trend
     (Mann-Kendall: Kendall's tau against chunk order). When there is one
     (p < :data:`TREND_ALPHA` and the Theil-Sen line explains at least
     :data:`TREND_EXPLAINS` of the variance), the trend must not widen the
     band: the spread is the detrended one, and the window is compared with
     the reference's *healthiest* end (its earliest or latest chunks,
     whichever is better for the figure; the latest for two-sided figures).
     :meth:`Band.trend_sentence` says so in words.
   * **Sampling noise.** Each chunk's figure was also measured on its two
     halves; half the mean squared difference of the halves estimates the
     figure's sampling variance at the chunk size. Only this part shrinks
     with the window's rows: ``sampling_sd * sqrt(chunk_rows / rows)``.
   * **Between-chunk variation.** What the chunks vary beyond their sampling
     noise (weather, prices, weekly swings) does not shrink with rows. It is
     counted only when the chunks vary significantly more than sampling
     explains (F test at :data:`OVERDISPERSION_ALPHA`); otherwise all of the
     spread is treated as sampling noise (the size-scaled band).

   ``Band.limits(rows, sigmas, worse)`` is ``centre ± sigmas·sd(rows)``.
2. **Range.** No threshold lies outside what its measure can take
   (:data:`mlmon_nb.alertable.RANGES`): a limit that would is replaced by the
   practical floor (:func:`within_range`), and the check says so.
3. **Decision.** :func:`decide` turns a value and its effective warn/alert
   thresholds into a status. A value is ``alert`` when it is beyond the alert
   threshold in the direction that is worse, ``warn`` beyond the warn
   threshold, else ``ok``; it is never beyond anything when it is not finite,
   when the test behind it is not significant, or when it is inside its band
   (``outside=False``). Areas compute the thresholds (band edge, practical
   floor, fixed limits from mlmon.yaml) and hand them here.

Everything in this module is pure and cheap to import (numpy and the
standard library; scipy only inside the functions that need it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .alertable import MIN_CHANGE, RANGES
from .errors import UsageError

BAND_SIGMAS = 3.0
"""Width of an alert band in standard deviations of the reference chunks."""
WARN_SIGMAS = 2.0
"""Width of a warn band (where an area warns on the band alone)."""
TREND_ALPHA = 0.01
"""Mann-Kendall p-value below which the reference chunks trend."""
TREND_EXPLAINS = 0.45
"""Share of the chunks' variance the trend line must explain to count (a weak trend is noise)."""
TREND_MIN_CHUNKS = 8
"""Fewest chunks a trend is looked for in."""
OVERDISPERSION_ALPHA = 0.05
"""Level of the F test saying the chunks vary more than their sampling noise."""

STATUSES = ("ok", "warn", "alert")
WORSE = ("up", "down")
_NAN = float("nan")


@dataclass(frozen=True)
class Band:
    """Natural variability of one figure across the reference chunks.

    Attributes
    ----------
    mean, sd : float
        Mean and standard deviation of the chunk values.
    low_seen, high_seen : float
        The smallest and largest chunk value.
    chunk_rows : float
        Median rows of a chunk.
    n_chunks : int
        Chunks with a finite value.
    scales_with_size : bool
        Whether the figure's noise shrinks with sample size.
    sampling_sd : float
        The figure's sampling noise at the chunk size (split halves); NaN when
        not measured (all of the spread then counts as sampling noise).
    trend_p, trend_tau : float
        Mann-Kendall p-value and Kendall's tau of the chunk values against time.
    start, end : float
        The Theil-Sen trend line at the first and the last chunk.
    resid_sd : float
        Standard deviation of the chunk values around that line.

    Examples
    --------
    >>> b = Band(mean=0.05, sd=0.01, low_seen=0.03, high_seen=0.07, chunk_rows=1000, n_chunks=20)
    >>> [round(x, 3) for x in b.limits(4000)]
    [0.035, 0.065]
    """

    mean: float
    sd: float
    low_seen: float
    high_seen: float
    chunk_rows: float
    n_chunks: int
    scales_with_size: bool = True
    sampling_sd: float = _NAN
    trend_p: float = _NAN
    trend_tau: float = _NAN
    start: float = _NAN
    end: float = _NAN
    resid_sd: float = _NAN

    @property
    def trending(self) -> bool:
        """Whether the chunk values follow a monotone trend through the reference period."""
        return (math.isfinite(self.trend_p) and self.trend_p < TREND_ALPHA and math.isfinite(self.resid_sd)
                and self.resid_sd ** 2 <= (1 - TREND_EXPLAINS) * self.sd ** 2)

    @property
    def spread(self) -> float:
        """The chunks' standard deviation, around the trend line when they trend."""
        return self.resid_sd if self.trending else self.sd

    def components(self) -> tuple[float, float]:
        """(sampling sd at the chunk size, between-chunk sd) of the spread.

        The between-chunk part is counted only when the chunks vary
        significantly more than sampling explains; else it is 0 and all of the
        spread is sampling noise.
        """
        spread = self.spread if math.isfinite(self.spread) else 0.0
        samp = self.sampling_sd
        if not self.scales_with_size:
            return 0.0, spread
        if not math.isfinite(samp) or samp <= 0 or spread <= samp or self.n_chunks < 3:
            return spread, 0.0
        from scipy.stats import f as f_dist  # scipy only when this figure is computed

        if spread ** 2 / samp ** 2 <= f_dist.isf(OVERDISPERSION_ALPHA, self.n_chunks - 1, self.n_chunks):
            return spread, 0.0
        return samp, math.sqrt(spread ** 2 - samp ** 2)

    def scaled_sd(self, rows: float | None = None) -> float:
        """The sd at ``rows`` rows: sampling noise rescaled, between-chunk variation kept."""
        samp, between = self.noise(rows)
        return math.sqrt(samp ** 2 + between ** 2)

    def noise(self, rows: float | None = None) -> tuple[float, float]:
        """(sampling sd at ``rows`` rows, between-chunk sd): the two parts of :meth:`scaled_sd`."""
        samp, between = self.components()
        if rows and self.scales_with_size and self.chunk_rows > 0:
            samp = samp * math.sqrt(self.chunk_rows / rows)
        return samp, between

    def centre(self, worse: str | None = None) -> float:
        """The reference state a window is compared with.

        Without a trend, the chunks' mean. With one, the healthiest end of the
        trend line: the lower end when higher is worse (``worse="up"``), the
        higher when lower is worse, the latest end for two-sided figures.
        """
        if not self.trending:
            return self.mean
        if worse == "up":
            return min(self.start, self.end)
        if worse == "down":
            return max(self.start, self.end)
        return self.end

    def compared_with(self, worse: str | None = None) -> str:
        """Which reference state :meth:`centre` is, in words."""
        if not self.trending:
            return "all reference chunks"
        earliest = self.centre(worse) == self.start
        return "the reference's earliest chunks" if earliest else "the reference's latest chunks"

    def limits(self, rows: float | None = None, sigmas: float = BAND_SIGMAS,
               worse: str | None = None) -> tuple[float, float]:
        """(low, high) for a figure computed on ``rows`` rows (chunk size when None)."""
        sd = self.scaled_sd(rows)
        sd = sd if math.isfinite(sd) else 0.0
        c = self.centre(worse)
        return c - sigmas * sd, c + sigmas * sd

    def trend_sentence(self, what: str, unit: str = "") -> str | None:
        """The reference's trend in words (None without one).

        Examples
        --------
        >>> b = Band(mean=0.75, sd=0.04, low_seen=0.69, high_seen=0.81, chunk_rows=600, n_chunks=20,
        ...          trend_p=1e-6, trend_tau=0.9, start=0.69, end=0.81, resid_sd=0.01)
        >>> b.trend_sentence("exposure Gini")
        'exposure Gini rose steadily through the reference period (0.69 → 0.81, Mann-Kendall p = 1e-06)'
        """
        if not self.trending:
            return None
        verb = "rose" if self.end > self.start else "fell"
        return (f"{what} {verb} steadily through the reference period ({_short(self.start)}{unit} → "
                f"{_short(self.end)}{unit}, Mann-Kendall p = {self.trend_p:.2g})")

    def to_dict(self) -> dict[str, Any]:
        return {k: _num(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Band":
        """The band as baseline.json stores it (None for non-finite numbers; older baselines lack the newer keys)."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: (_NAN if v is None else v) for k, v in d.items() if k in known})


def split_half_sd(first: Sequence[float], second: Sequence[float]) -> float:
    """A figure's sampling sd at the chunk size from its values on each chunk's two halves.

    The halves' difference has variance twice a half's, and a half's is twice
    the whole chunk's, so the chunk's variance is the mean squared difference
    over four. NaN with fewer than 3 finite pairs.

    Examples
    --------
    >>> round(split_half_sd([1.0, 2.0, 3.0], [1.2, 1.8, 3.2]), 3)
    0.1
    """
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return _NAN
    return float(math.sqrt(np.mean((a[ok] - b[ok]) ** 2) / 4))


def fit_band(values: Sequence[float], rows: Sequence[float], scales_with_size: bool = True,
             sampling_sd: float | None = None) -> Band | None:
    """The band of a figure from its per-chunk values in time order (None with fewer than 3 finite ones).

    Parameters
    ----------
    values, rows : sequence of float
        The figure and the rows of each chunk, in time order (a trend is looked for).
    scales_with_size : bool
        Whether the figure's sampling noise shrinks with rows.
    sampling_sd : float, optional
        Its sampling sd at the chunk size (:func:`split_half_sd`).

    Examples
    --------
    >>> fit_band([1.0, 2.0, 3.0], [10, 10, 10]).sd
    1.0
    >>> fit_band([1.0, float("nan")], [10, 10]) is None
    True
    >>> fit_band([0.69 + 0.006 * i + 0.002 * (-1) ** i for i in range(20)], [600] * 20).trending
    True
    """
    v = np.asarray(values, dtype=float)
    r = np.asarray(rows, dtype=float)
    ok = np.isfinite(v)
    if ok.sum() < 3:
        return None
    v, r = v[ok], r[ok]
    trend = _trend(v)
    return Band(mean=float(v.mean()), sd=float(v.std(ddof=1)), low_seen=float(v.min()), high_seen=float(v.max()),
                chunk_rows=float(np.median(r)), n_chunks=int(len(v)), scales_with_size=scales_with_size,
                sampling_sd=_NAN if sampling_sd is None else float(sampling_sd), **trend)


def _trend(v: np.ndarray) -> dict[str, float]:
    """Mann-Kendall test and Theil-Sen line of chunk values in time order (NaNs when too few or flat)."""
    if len(v) < TREND_MIN_CHUNKS or float(np.ptp(v)) == 0.0:
        return {}
    from scipy import stats as sps  # scipy only when a band is fitted

    x = np.arange(len(v), dtype=float)
    tau = sps.kendalltau(x, v)
    slope, intercept = sps.theilslopes(v, x)[:2]
    line = intercept + slope * x
    resid = v - line
    # Neighbouring chunks are often alike (a week's regime spans seven daily chunks): the test then
    # sees fewer independent chunks than it counts. Its z is shrunk by the effective sample size
    # n (1 - r1) / (1 + r1), r1 the residuals' lag-1 autocorrelation (a Hamed-Rao style correction).
    r1 = float(np.corrcoef(resid[:-1], resid[1:])[0, 1]) if np.std(resid) > 0 else 0.0
    p = float(tau.pvalue)
    if math.isfinite(r1) and r1 > 0 and math.isfinite(p):
        z = sps.norm.isf(max(p, 1e-300) / 2) * math.sqrt((1 - r1) / (1 + r1))
        p = float(2 * sps.norm.sf(z))
    return {"trend_p": p, "trend_tau": float(tau.statistic), "start": float(line[0]), "end": float(line[-1]),
            "resid_sd": float(np.std(resid, ddof=2))}


def band_limits(band: Band | None, rows: float | None, sigmas: float = BAND_SIGMAS,
                worse: str | None = None) -> tuple[float | None, float | None]:
    """(low, high) of a band at ``rows`` rows; (None, None) without a usable band.

    A band whose sd is not finite (a single distinct chunk value) has zero
    width. With a trend, the band is around the healthiest end for ``worse``
    (see :meth:`Band.centre`).
    """
    if band is None or not np.isfinite(band.mean):
        return None, None
    low, high = band.limits(rows or None, sigmas, worse)
    return float(low), float(high)


def material_change(metric: str, reference: float, override: float | None = None) -> tuple[float, float]:
    """(warn, alert): the smallest change of a performance metric that matters, in its units.

    From :data:`mlmon_nb.alertable.MIN_CHANGE` (``rel`` ones a share of the
    reference value), or ``override`` (``thresholds.metrics.<m>.min_change``,
    in the metric's units); warn at half of it. (0, 0) for a metric without one.

    Examples
    --------
    >>> material_change("roc_auc", 0.8)
    (0.01, 0.02)
    >>> material_change("mae", 200.0)
    (5.0, 10.0)
    >>> material_change("roc_auc", 0.8, override=0.05)
    (0.025, 0.05)
    """
    if override is not None:
        alert = float(override)
    elif metric in MIN_CHANGE:
        how, amount = MIN_CHANGE[metric]
        alert = amount * abs(reference) if how == "rel" else amount
        alert = alert if math.isfinite(alert) else 0.0
    else:
        alert = 0.0
    return alert / 2, alert


def within_range(limit: float | None, measure: str, fallback: float | None = None) -> tuple[float | None, str | None]:
    """A threshold kept inside what ``measure`` can take, and why it was moved (None when it was not).

    A limit beyond the measure's range (:data:`mlmon_nb.alertable.RANGES`)
    could never (or would always) be reached: it is replaced by ``fallback``
    (the practical floor) when that is inside the range, else by the range's
    edge.

    Examples
    --------
    >>> within_range(1.37, "exposure_gini", 0.74)
    (0.74, 'the band (1.37) reaches beyond what exposure_gini can take (0 to 1): the practical floor 0.74 decides')
    >>> within_range(0.5, "exposure_gini")
    (0.5, None)
    """
    if limit is None or not math.isfinite(float(limit)) or measure not in RANGES:
        return limit, None
    lo, hi = RANGES[measure]
    if lo <= limit <= hi:
        return limit, None
    span = f"{_short(lo)} to {_short(hi)}" if math.isfinite(hi) else f"at least {_short(lo)}"
    if fallback is not None and math.isfinite(fallback) and lo <= fallback <= hi:
        return float(fallback), (f"the band ({_short(limit)}) reaches beyond what {measure} can take ({span}): "
                                 f"the practical floor {_short(fallback)} decides")
    edge = float(min(max(limit, lo), hi))
    return edge, f"the band ({_short(limit)}) reaches beyond what {measure} can take ({span}): its edge decides"


def sigmas(margin: float = 0.0) -> float:
    """Alert band width with the ``thresholds.band_margin`` extra standard deviations."""
    return BAND_SIGMAS + float(margin)


def bonferroni_sigmas(base: float, tests: int) -> float:
    """The z giving ``tests`` one-sided comparisons the false-alarm rate of one at ``base``.

    Examples
    --------
    >>> round(bonferroni_sigmas(3.0, 7), 2)
    3.55
    """
    if tests <= 1:
        return float(base)
    from scipy.stats import norm  # scipy only when this figure is computed

    return float(norm.isf(norm.sf(base) / tests))


def family_sigmas(tests: int, base: float = BAND_SIGMAS) -> float:
    """Two-sided z keeping the family-wise false-alarm rate of ``tests`` figures at one figure's.

    Examples
    --------
    >>> round(family_sigmas(1), 2), round(family_sigmas(8), 2)
    (3.0, 3.58)
    """
    from scipy.stats import norm  # scipy only when this figure is computed

    family = 2 * norm.sf(base)
    per_test = 1 - (1 - family) ** (1 / max(int(tests), 1))
    return max(base, float(norm.isf(per_test / 2)))


def decide(value: float | None, warn_at: float | None, alert_at: float | None, *, worse: str = "up",
           outside: bool = True, significant: bool = True) -> str:
    """The status of one figure.

    Parameters
    ----------
    value : float or None
        The figure (or its effect size) in the window.
    warn_at, alert_at : float or None
        Effective thresholds; None or NaN means that level cannot fire.
    worse : {"up", "down"}
        The direction in which the figure gets worse.
    outside : bool
        Whether the figure is outside its band of natural variability (areas
        that fold the band into the thresholds leave it True).
    significant : bool
        Whether the test behind the figure is significant (after correction).

    Returns
    -------
    str
        ``alert`` when ``value`` reaches ``alert_at`` in the worse direction,
        ``warn`` when it reaches ``warn_at``, else ``ok``; always ``ok`` for a
        missing or non-finite value, or when not outside or not significant.

    Examples
    --------
    >>> decide(0.15, 0.05, 0.1)
    'alert'
    >>> decide(0.07, 0.05, 0.1)
    'warn'
    >>> decide(0.15, 0.05, 0.1, significant=False)
    'ok'
    >>> decide(0.61, 0.66, 0.64, worse="down")
    'alert'
    """
    if worse not in WORSE:
        raise UsageError(f"The 'worse' parameter of decide must be 'up' or 'down'. Got {worse!r} instead.")
    if value is None or not outside or not significant:
        return "ok"
    value = float(value)
    if not math.isfinite(value):
        return "ok"
    if _reaches(value, alert_at, worse):
        return "alert"
    if _reaches(value, warn_at, worse):
        return "warn"
    return "ok"


def _reaches(value: float, threshold: float | None, worse: str) -> bool:
    if threshold is None or not math.isfinite(float(threshold)):
        return False
    return value >= threshold if worse == "up" else value <= threshold


def _short(x: float) -> str:
    """A number in three significant digits."""
    return f"{x:.3g}"


def _num(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
