"""Decision rules: bands of natural variability, and the one ``decide()`` every area uses.

A figure of a window (a distance, a performance metric, a latency percentile,
an exposure Gini) is judged against the baseline in one way everywhere:

1. **Band.** The baseline measured the figure on equal chunks of the
   reference; :class:`Band` keeps their mean and standard deviation.
   :func:`fit_band` is the one way such a band is made from chunk values.
   ``Band.limits(rows, sigmas)`` is ``mean ± sigmas·sd``; for figures whose
   noise shrinks with sample size, the sd is rescaled to the compared
   window's rows: ``sd·sqrt(chunk_rows / rows)``.
2. **Decision.** :func:`decide` turns a value and its effective warn/alert
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

from .errors import UsageError

BAND_SIGMAS = 3.0
"""Width of an alert band in standard deviations of the reference chunks."""
WARN_SIGMAS = 2.0
"""Width of a warn band (where an area warns on the band alone)."""

STATUSES = ("ok", "warn", "alert")
WORSE = ("up", "down")


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

    def scaled_sd(self, rows: float | None = None) -> float:
        """The sd at ``rows`` rows (the chunk size when None or for size-free figures)."""
        sd = self.sd
        if rows and self.scales_with_size and self.chunk_rows > 0:
            sd = sd * math.sqrt(self.chunk_rows / rows)
        return sd

    def limits(self, rows: float | None = None, sigmas: float = BAND_SIGMAS) -> tuple[float, float]:
        """(low, high) for a figure computed on ``rows`` rows (chunk size when None)."""
        sd = self.scaled_sd(rows)
        return self.mean - sigmas * sd, self.mean + sigmas * sd

    def to_dict(self) -> dict[str, Any]:
        return {k: _num(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Band":
        """The band as baseline.json stores it (None for non-finite numbers)."""
        return cls(**{k: (float("nan") if v is None else v) for k, v in d.items()})


def fit_band(values: Sequence[float], rows: Sequence[float], scales_with_size: bool = True) -> Band | None:
    """The band of a figure from its per-chunk values (None with fewer than 3 finite ones).

    Examples
    --------
    >>> fit_band([1.0, 2.0, 3.0], [10, 10, 10]).sd
    1.0
    >>> fit_band([1.0, float("nan")], [10, 10]) is None
    True
    """
    v = np.asarray(values, dtype=float)
    r = np.asarray(rows, dtype=float)
    ok = np.isfinite(v)
    if ok.sum() < 3:
        return None
    v, r = v[ok], r[ok]
    return Band(mean=float(v.mean()), sd=float(v.std(ddof=1)), low_seen=float(v.min()), high_seen=float(v.max()),
                chunk_rows=float(np.median(r)), n_chunks=int(len(v)), scales_with_size=scales_with_size)


def band_limits(band: Band | None, rows: float | None, sigmas: float = BAND_SIGMAS) -> tuple[float | None, float | None]:
    """(low, high) of a band at ``rows`` rows; (None, None) without a usable band.

    A band whose sd is not finite (a single distinct chunk value) has zero width.
    """
    if band is None or not np.isfinite(band.mean):
        return None, None
    sd = band.scaled_sd(rows or None)
    sd = sd if np.isfinite(sd) else 0.0
    return float(band.mean - sigmas * sd), float(band.mean + sigmas * sd)


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


def _num(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
