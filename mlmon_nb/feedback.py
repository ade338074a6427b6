"""Feedback loops: is the system feeding on itself.

A recommender decides what users see; what they then click becomes the next
training data; the next model recommends more of the same. This module
measures the symptoms in a window of logs and compares them with the
*baseline period* (the reference data):

Exposure concentration (Fleder & Hosanagar 2009; Mansoury et al. 2020)
    Per chunk (one day by default, ``chunk`` in mlmon.yaml): the Gini
    coefficient of exposures over the catalogue's items, the normalised Shannon
    entropy of exposures, the share of exposures on the top 1% and top 10% of
    items, and catalogue coverage (items exposed / catalogue size).
Homogenisation (Chaney, Stewart & Engelhardt 2018)
    Mean Jaccard similarity of the item sets shown to two users, over sampled
    pairs of users of the same chunk.
Self-reinforcement (Jiang et al. 2019; Mansoury et al. 2020)
    The rich-get-richer correlation: Spearman's rho between an item's exposure
    in one chunk and in the next. Descriptive companions: the outcome rate on
    model-driven exposures against organic or randomised ones, and the share
    of positive outcomes landing on items the model already favoured.
Training provenance
    Per model version, the share of its reference/training rows produced under
    the model's own influence.
Prediction narrowing (classifiers without items)
    Spread of the predictions (standard deviation) and their extremity (share
    outside the reference's central 90%), per chunk and per version.

Like with like
--------------
Concentration figures depend on how many exposures they are computed from: a
day of 600 exposures cannot cover a catalogue of 2,000 items, a week of
600,000 can. Every chunk of the baseline period and of the window is therefore
*subsampled to the same number of exposures* ``m`` (without replacement,
seeded) before any figure is computed: ``m`` is the smallest exposure count of
a full chunk in either period (chunks with fewer than half their period's
median count, e.g. a partial first day, are left out). The catalogue is the set
of items exposed in the baseline period (a chunk exposing more distinct items
uses its own count).

Decision rule
-------------
As for data drift, a check needs both significance and size. A figure's
*band* is the mean ± 3 sd of its values over the baseline chunks (plus
``thresholds.band_margin`` sd); the window's value is the mean of its chunks'
values. Only the direction that signals a loop counts (Gini, top shares,
homogenisation and rich-get-richer up; entropy and coverage down). Outside the
band is ``warn``; outside the band *and* moved by at least the measure's
material change (:data:`MEASURES`: e.g. Gini +0.05, top-1% share x1.5,
coverage x0.9, Jaccard x2, rich-get-richer rho +0.2) is ``alert``. The sd is
the day-to-day sd, not shrunk by the number of window days (neighbouring days
are not independent), and the material change keeps large traffic, where
every day is precise, from turning a small real shift into an alert.
``thresholds.metrics.<subject>: {warn, alert}`` in mlmon.yaml replaces both
by fixed limits. Training provenance has no baseline band (it is a property
of the training data): it warns at 80% and alerts at 95% of rows produced
under the model's influence, and warns when it rose by 10 points or more from
the previous version.
"""

from __future__ import annotations

import html
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .rules import BAND_SIGMAS, Band, fit_band as band_from_values
from .checks import SEVERITY, Recorder, worst
from .errors import UsageError

if TYPE_CHECKING:
    from .config import ModelConfig
    from .context import WindowContext

logger = logging.getLogger(__name__)

__all__ = [
    "MEASURES", "Assessment", "FeedbackResult", "Measure", "analyse", "analyse_frames", "chunk_figures",
    "coverage", "decide", "gini", "jaccard", "lorenz_curve", "mean_pairwise_jaccard", "normalised_entropy",
    "rate_difference_interval", "rich_get_richer", "top_share", "wilson_interval",
]

MIN_BAND_CHUNKS = 5
MIN_EXPOSURES_PER_CHUNK = 50
PARTIAL_CHUNK_SHARE = 0.5  # chunks below this share of their period's median count are partial
JACCARD_PAIRS = 20_000
FAVOURED_FRACTION = 0.10
PROVENANCE_WARN = 0.80
PROVENANCE_ALERT = 0.95
PROVENANCE_RISE_WARN = 0.10
EXTREME_QUANTILES = (0.05, 0.95)
LORENZ_POINTS = 400


# --------------------------------------------------------------------------- the measures

@dataclass(frozen=True)
class Measure:
    """One monitored figure: machine name, display name, the direction that signals a loop."""

    name: str
    display: str
    method: str
    worse: str  # "up" or "down"
    unit: str
    percent: bool = False
    needs: str = "item"
    material: tuple[str, float] | None = None  # ("abs", delta) or ("ratio", factor) that makes a change material
    phrase: str = ""  # for sentences

    @property
    def short(self) -> str:
        return self.phrase or self.display[0].lower() + self.display[1:]


MEASURES: dict[str, Measure] = {m.name: m for m in (
    Measure("exposure_gini", "Gini coefficient of exposures", "gini", "up", "0 = equal, 1 = one item takes all",
            material=("abs", 0.05), phrase="the Gini coefficient of exposures"),
    Measure("exposure_entropy", "Normalised entropy of exposures", "normalised_entropy", "down",
            "1 = uniform over the catalogue", material=("abs", 0.03), phrase="the normalised entropy of exposures"),
    Measure("top1pct_share", "Share of exposures on the top 1% of items", "top_share", "up", "%", True,
            material=("ratio", 1.5), phrase="the top 1% of items' share of exposures"),
    Measure("top10pct_share", "Share of exposures on the top 10% of items", "top_share", "up", "%", True,
            material=("ratio", 1.25), phrase="the top 10% of items' share of exposures"),
    Measure("coverage", "Catalogue coverage", "coverage", "down", "% of catalogue items exposed", True,
            material=("ratio", 0.9), phrase="catalogue coverage"),
    Measure("homogenisation", "Mean Jaccard similarity of users' exposed items", "jaccard", "up",
            "0 = no shared items", needs="user", material=("ratio", 2.0),
            phrase="the similarity of what different users are shown (mean Jaccard)"),
    Measure("self_reinforcement", "Rich-get-richer correlation (chunk to next chunk)", "spearman", "up",
            "Spearman's rho", material=("abs", 0.2), phrase="the rich-get-richer correlation"),
    Measure("prediction_spread", "Spread of the predictions (sd)", "std", "down", "sd of the prediction",
            needs="prediction", material=("ratio", 0.8), phrase="the spread of the predictions"),
    Measure("prediction_extremity", "Predictions outside the reference's central 90%", "tail_share", "up",
            "%", True, needs="prediction", material=("ratio", 1.5),
            phrase="the share of predictions outside the reference's central 90%"),
    Measure("training_provenance", "Share of training data produced under the model's influence", "share",
            "up", "%", True, needs="training_provenance",
            phrase="the share of training data produced under the model's influence"),
)}
ITEM_SUBJECTS = ("exposure_gini", "exposure_entropy", "top1pct_share", "top10pct_share", "coverage",
                 "homogenisation", "self_reinforcement")
PREDICTION_SUBJECTS = ("prediction_spread", "prediction_extremity")


# --------------------------------------------------------------------------- pure statistics

def _counts(counts: Any, catalogue: int | None, func: str) -> tuple[np.ndarray, int]:
    x = np.asarray(counts, dtype=float).ravel()
    if x.size and (not np.all(np.isfinite(x)) or x.min() < 0):
        raise UsageError(f"The 'counts' parameter of {func} must hold finite non-negative numbers. "
                         f"Got min {np.nanmin(x)!r} instead.")
    n = int(catalogue) if catalogue is not None else x.size
    if n < x.size:
        raise UsageError(f"The 'catalogue' parameter of {func} must be >= the number of counts "
                         f"({x.size}). Got {n} instead.")
    return x, n


def gini(counts: Any, catalogue: int | None = None) -> float:
    """Gini coefficient of exposure counts over a catalogue of items.

    Parameters
    ----------
    counts : array-like
        Exposures per item (non-negative). Items of the catalogue not listed
        count as zero exposures.
    catalogue : int, optional
        Catalogue size (``len(counts)`` when omitted).

    Returns
    -------
    float
        0 when every item is exposed equally, ``(n-1)/n`` when one item takes
        every exposure; NaN without exposures.

    Examples
    --------
    >>> gini([5, 5, 5, 5])
    0.0
    >>> gini([10], catalogue=4)
    0.75
    """
    x, n = _counts(counts, catalogue, "gini")
    total = x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    x = np.sort(x)
    ranks = np.arange(n - x.size + 1, n + 1, dtype=float)  # the implicit zeros take the lowest ranks
    return float(max(0.0, 2.0 * (ranks @ x) / (n * total) - (n + 1.0) / n))


def normalised_entropy(counts: Any, catalogue: int | None = None) -> float:
    """Shannon entropy of the exposure shares divided by its maximum, log(catalogue).

    Examples
    --------
    >>> round(normalised_entropy([3, 3, 3]), 12)
    1.0
    >>> normalised_entropy([4], catalogue=8)
    0.0
    """
    x, n = _counts(counts, catalogue, "normalised_entropy")
    total = x.sum()
    if n < 2 or total <= 0:
        return float("nan")
    p = x[x > 0] / total
    return float(max(0.0, -(p * np.log(p)).sum() / math.log(n)))


def top_share(counts: Any, fraction: float, catalogue: int | None = None) -> float:
    """Share of exposures on the most exposed ``fraction`` of the catalogue (at least one item).

    Examples
    --------
    >>> top_share([50, 30, 10, 5, 5], 0.2)
    0.5
    >>> round(top_share([50, 30, 10, 5, 5], 0.4), 6)
    0.8
    """
    if not 0 < fraction <= 1:
        raise UsageError(f"The 'fraction' parameter of top_share must be a number in (0, 1]. Got {fraction!r} instead.")
    x, n = _counts(counts, catalogue, "top_share")
    total = x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    k = max(1, int(math.ceil(fraction * n - 1e-9)))
    top = np.sort(x)[::-1][:k]
    return float(top.sum() / total)


def coverage(counts: Any, catalogue: int | None = None) -> float:
    """Share of the catalogue's items exposed at least once.

    Examples
    --------
    >>> coverage([3, 0, 1], catalogue=4)
    0.5
    """
    x, n = _counts(counts, catalogue, "coverage")
    return float((x > 0).sum() / n) if n else float("nan")


def lorenz_curve(counts: Any, catalogue: int | None = None, points: int | None = LORENZ_POINTS
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve of exposures: cumulative share of items (least exposed first) against exposures.

    Returns
    -------
    (x, y) : arrays
        From (0, 0) to (1, 1); at most ``points + 1`` points (evenly spaced in x).
    """
    x, n = _counts(counts, catalogue, "lorenz_curve")
    full = np.concatenate([np.zeros(n - x.size), np.sort(x)])
    total = full.sum()
    cum = np.concatenate([[0.0], np.cumsum(full) / total]) if total > 0 else np.linspace(0, 1, n + 1)
    share = np.linspace(0.0, 1.0, n + 1)
    if points and n > points:
        idx = np.unique(np.round(np.linspace(0, n, points + 1)).astype(int))
        return share[idx], cum[idx]
    return share, cum


def jaccard(a: set, b: set) -> float:
    """Jaccard similarity |a ∩ b| / |a ∪ b| of two sets (NaN when both are empty).

    Examples
    --------
    >>> jaccard({1, 2, 3}, {2, 3, 4})
    0.5
    """
    union = len(a | b)
    return len(a & b) / union if union else float("nan")


def mean_pairwise_jaccard(users: Any, items: Any, rng: np.random.Generator | None = None,
                          pairs: int | None = JACCARD_PAIRS) -> float:
    """Mean Jaccard similarity of the item sets of two different users.

    Parameters
    ----------
    users, items : array-like
        One entry per exposure: who saw which item (integer codes or any
        hashable values).
    rng : numpy.random.Generator, optional
        Draws the sampled pairs; needed when sampling.
    pairs : int or None
        Number of user pairs to draw (with replacement, two distinct users
        each). All pairs are used exactly when there are no more than this
        many, or when ``pairs`` is None.

    Returns
    -------
    float
        NaN with fewer than two users.

    Examples
    --------
    >>> mean_pairwise_jaccard(["u", "u", "v", "w"], [1, 2, 2, 3], pairs=None)  # pairs: 1/2, 0, 0
    0.16666666666666666
    """
    u_codes, _ = pd.factorize(pd.Series(np.asarray(users)), sort=False)
    i_codes, _ = pd.factorize(pd.Series(np.asarray(items)), sort=False)
    if len(u_codes) != len(i_codes):
        raise UsageError(f"The 'users' and 'items' parameters of mean_pairwise_jaccard must have the same "
                         f"length. Got {len(u_codes)} and {len(i_codes)} instead.")
    n_items = int(i_codes.max()) + 1 if len(i_codes) else 0
    keys = np.unique(u_codes.astype(np.int64) * max(n_items, 1) + i_codes)
    user_of, item_of = keys // max(n_items, 1), keys % max(n_items, 1)
    n_users = int(user_of.max()) + 1 if len(keys) else 0
    if n_users < 2:
        return float("nan")
    sizes = np.bincount(user_of, minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    all_pairs = n_users * (n_users - 1) // 2
    if pairs is None or all_pairs <= pairs:
        a, b = np.triu_indices(n_users, k=1)
    else:
        if rng is None:
            raise UsageError("The 'rng' parameter of mean_pairwise_jaccard is required when pairs are sampled.")
        a = rng.integers(0, n_users, int(pairs))
        b = rng.integers(0, n_users - 1, int(pairs))
        b = b + (b >= a)
    # Expand the items of each pair's first user and look them up in the second user's set.
    reps = sizes[a]
    pair_of = np.repeat(np.arange(len(a)), reps)
    offset = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    their_items = item_of[np.repeat(starts[a], reps) + offset]
    wanted = b[pair_of].astype(np.int64) * max(n_items, 1) + their_items
    found = np.searchsorted(keys, wanted)
    hit = (found < len(keys)) & (keys[np.minimum(found, len(keys) - 1)] == wanted)
    inter = np.bincount(pair_of[hit], minlength=len(a))
    union = sizes[a] + sizes[b] - inter
    return float(np.mean(inter / union))


def rich_get_richer(past: Any, later: Any) -> tuple[float, float]:
    """Spearman's rho (and its p-value) between items' past and later exposure.

    Both arrays are indexed by item over the same catalogue. A loop in which
    exposure begets exposure shows as a positive rho that grows over time.
    """
    from scipy import stats

    p, q = np.asarray(past, dtype=float), np.asarray(later, dtype=float)
    if p.shape != q.shape:
        raise UsageError(f"The 'past' and 'later' parameters of rich_get_richer must have the same shape. "
                         f"Got {p.shape} and {q.shape} instead.")
    if p.size < 3 or np.all(p == p[0]) or np.all(q == q[0]):
        return float("nan"), float("nan")
    res = stats.spearmanr(p, q)
    return float(res.statistic), float(res.pvalue)


def wilson_interval(positives: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (NaN, NaN when ``n`` is 0).

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(5, 10)]
    [0.2366, 0.7634]
    """
    from scipy import stats

    if n <= 0:
        return float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = positives / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = centre - half, centre + half
    return (0.0 if lo < 1e-12 else lo), (1.0 if hi > 1 - 1e-12 else hi)


def rate_difference_interval(k1: float, n1: float, k2: float, n2: float,
                             confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference of two proportions k1/n1 - k2/n2 with Newcombe's hybrid Wilson interval."""
    if n1 <= 0 or n2 <= 0:
        return float("nan"), float("nan"), float("nan")
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, confidence)
    l2, u2 = wilson_interval(k2, n2, confidence)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


# --------------------------------------------------------------------------- per-chunk figures

def _chunk_keys(ts: pd.Series, chunk: pd.Timedelta) -> np.ndarray:
    ts = pd.to_datetime(ts, utc=True)
    return ((ts - pd.Timestamp(0, tz="UTC")) // chunk).to_numpy(dtype="int64")


def full_chunks(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chunk keys, their exposure counts, and which are full (>= half the median count)."""
    uniq, counts = np.unique(keys, return_counts=True)
    full = counts >= PARTIAL_CHUNK_SHARE * np.median(counts) if len(counts) else np.array([], bool)
    return uniq, counts, full


def chunk_figures(keys: np.ndarray, items: np.ndarray, users: np.ndarray | None, *, catalogue: int,
                  per_chunk: int, rng: np.random.Generator, use: np.ndarray | None = None,
                  pairs: int | None = JACCARD_PAIRS) -> pd.DataFrame:
    """Every item-level figure per chunk, each chunk subsampled to ``per_chunk`` exposures.

    Parameters
    ----------
    keys : array of int
        Chunk number of every exposure (consecutive numbers are adjacent chunks).
    items : array of int
        Item code of every exposure, ``0 <= code``; codes below ``catalogue`` are
        the catalogue's items.
    users : array of int, optional
        User code of every exposure (homogenisation is NaN without it).
    catalogue : int
        Catalogue size.
    per_chunk : int
        Exposures drawn (without replacement) from every chunk.
    rng : numpy.random.Generator
        Draws the subsamples and the user pairs.
    use : array of int, optional
        Chunk keys to compute (the others are skipped); every chunk with at
        least ``per_chunk`` exposures when omitted.

    Returns
    -------
    DataFrame
        One row per computed chunk: ``chunk``, ``exposures`` (before
        subsampling) and one column per subject of :data:`ITEM_SUBJECTS`.
    """
    order = np.argsort(keys, kind="stable")
    uniq, first, counts = np.unique(keys[order], return_index=True, return_counts=True)
    wanted = set(int(k) for k in (use if use is not None else uniq[counts >= per_chunk]))
    n_codes = max(int(items.max()) + 1 if len(items) else 0, catalogue)
    rows = []
    prev_key, prev_counts = None, None
    for key, start, n in zip(uniq, first, counts):
        key = int(key)
        if key not in wanted or n < per_chunk:
            continue
        take = order[start + rng.choice(n, size=per_chunk, replace=False)]
        sub_items = items[take]
        c = np.bincount(sub_items, minlength=n_codes)
        nz = c[c > 0]
        k = max(catalogue, nz.size)
        fig = {
            "chunk": key, "exposures": int(n),
            "exposure_gini": gini(nz, k), "exposure_entropy": normalised_entropy(nz, k),
            "top1pct_share": top_share(nz, 0.01, k), "top10pct_share": top_share(nz, 0.10, k),
            "coverage": coverage(nz, k),
            "homogenisation": _homogenisation(users, take, sub_items, rng, pairs),
            "self_reinforcement": (rich_get_richer(prev_counts, c)[0]
                                   if prev_key is not None and prev_key == key - 1 else float("nan")),
        }
        rows.append(fig)
        prev_key, prev_counts = key, c
    cols = ["chunk", "exposures", *ITEM_SUBJECTS]
    return pd.DataFrame(rows, columns=cols)


def _homogenisation(users, take, sub_items, rng, pairs) -> float:
    if users is None:
        return float("nan")
    u = users[take]
    known = u >= 0  # exposures without a user id take no part
    return mean_pairwise_jaccard(u[known], sub_items[known], rng, pairs)


# --------------------------------------------------------------------------- the decision

@dataclass(frozen=True)
class Assessment:
    """One figure of the window against its baseline band, and the resulting status."""

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

    @property
    def measure(self) -> Measure:
        return MEASURES[self.subject] if self.subject in MEASURES else Measure(
            self.subject, self.subject.replace("_", " "), self.method, "up", "")


def decide(value: float, band: Band | None, worse: str, *, margin: float = 0.0,
           material: tuple[str, float] | None = None, fixed: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Status of a window figure against its baseline band (or fixed limits).

    Parameters
    ----------
    value : float
        The window's figure.
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
        ``{"warn": x, "alert": y}``: fixed limits replacing the band.

    Returns
    -------
    dict
        ``status``, ``warn_limit``, ``alert_limit``, ``band_low``,
        ``band_high``, ``baseline_mean``, ``z``, ``rule``.

    Examples
    --------
    >>> b = Band(mean=0.5, sd=0.01, low_seen=0.48, high_seen=0.52, chunk_rows=600, n_chunks=20,
    ...          scales_with_size=False)
    >>> [decide(v, b, "up", material=("abs", 0.05))["status"] for v in (0.52, 0.54, 0.56)]
    ['ok', 'warn', 'alert']
    >>> decide(0.40, b, "up")["status"]
    'ok'
    """
    if worse not in ("up", "down"):
        raise UsageError(f"The 'worse' parameter of decide must be 'up' or 'down'. Got {worse!r} instead.")
    sign = 1.0 if worse == "up" else -1.0
    out: dict[str, Any] = {"baseline_mean": None, "band_low": None, "band_high": None, "z": None}
    warn_limit = alert_limit = None
    out["rule"] = "no baseline band"
    if band is not None and math.isfinite(band.mean):
        k = BAND_SIGMAS + margin
        sd = band.sd if math.isfinite(band.sd) else 0.0
        sd = max(sd, 1e-3 * abs(band.mean), 1e-12)  # a constant baseline must not make every change an alert
        out.update(baseline_mean=band.mean, band_low=band.mean - k * sd, band_high=band.mean + k * sd,
                   z=(value - band.mean) / sd if math.isfinite(value) else None)
        warn_limit = band.mean + sign * k * sd
        alert_limit = warn_limit
        out["rule"] = f"outside baseline mean {'+' if sign > 0 else '-'} {k:g} sd"
        if material is not None:
            kind, amount = material
            delta = amount if kind == "abs" else abs(amount - 1.0) * abs(band.mean)
            alert_limit = band.mean + sign * max(k * sd, delta)
            what = f"{'+' if sign > 0 else '-'}{amount:g}" if kind == "abs" else f"x{amount:g}"
            out["rule"] += f" warns; also a material change ({what}) alerts"
        else:
            out["rule"] += " alerts"
    if fixed:
        warn_limit = float(fixed.get("warn", fixed.get("alert", warn_limit)))
        alert_limit = float(fixed.get("alert", alert_limit if alert_limit is not None else warn_limit))
        out["rule"] = f"fixed limits from mlmon.yaml (warn {warn_limit:g}, alert {alert_limit:g})"
    out.update(warn_limit=warn_limit, alert_limit=alert_limit)
    status = "ok"
    if math.isfinite(value) and warn_limit is not None:
        if sign * (value - alert_limit) >= 0:
            status = "alert"
        elif sign * (value - warn_limit) >= 0:
            status = "warn"
    out["status"] = status
    return out


# --------------------------------------------------------------------------- the result

@dataclass
class FeedbackResult:
    """Everything the feedback-loops notebook shows and decides.

    Attributes
    ----------
    assessments : list of Assessment
        One per monitored figure that could be computed.
    chunks : DataFrame
        Per-chunk figures of the baseline period and the window (``period``,
        ``start``, ``exposures`` and one column per subject).
    missing : list of str
        What could not be done and which configuration or columns it needs.
    """

    model: str
    version: str
    configured: bool
    columns: dict[str, str | None]
    chunk: str
    assessments: list[Assessment] = field(default_factory=list)
    chunks: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    bands: dict[str, Band] = field(default_factory=dict, repr=False)
    per_chunk: int | None = None
    catalogue: int | None = None
    whole: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    whole_exposures: int | None = None
    lorenz: dict[str, tuple[np.ndarray, np.ndarray, float]] = field(default_factory=dict, repr=False)
    outcomes: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    outcome_lift: dict[str, Any] = field(default_factory=dict)
    favoured: dict[str, Any] = field(default_factory=dict)
    carry_over: dict[str, Any] = field(default_factory=dict)
    provenance: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    provenance_check: Assessment | None = None
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    prediction_versions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    record_predictions: bool = False
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # ----------------------------------------------------------------- views
    @property
    def status(self) -> str:
        return worst(a.status for a in self.checks())

    def checks(self) -> list[Assessment]:
        """The assessments recorded as ``feedback_loop`` checks."""
        out = [a for a in self.assessments if a.subject in ITEM_SUBJECTS
               or (self.record_predictions and a.subject in PREDICTION_SUBJECTS)]
        if self.provenance_check is not None:
            out.append(self.provenance_check)
        return out

    def available(self, kind: str) -> bool:
        """Whether :meth:`plot` has something to draw for ``kind``."""
        if kind == "lorenz":
            return bool(self.lorenz)
        if kind == "over_time":
            return not self.chunks.empty and any(a.subject in ITEM_SUBJECTS for a in self.assessments)
        if kind == "outcomes":
            return not self.outcomes.empty
        if kind == "provenance":
            return not self.provenance.empty and self.provenance["share"].notna().any()
        if kind == "predictions":
            return not self.predictions.empty
        raise UsageError(f"The 'kind' parameter of FeedbackResult.available must be one of "
                         f"{', '.join(PLOT_KINDS)}. Got {kind!r} instead.")

    def to_df(self) -> pd.DataFrame:
        """One row per check: subject, window value, baseline mean and band, limits, z, status."""
        rows = []
        for a in self.checks():
            m = a.measure
            rows.append({"subject": a.subject, "figure": m.display, "window": a.value,
                         "baseline mean": a.baseline_mean, "band low": a.band_low, "band high": a.band_high,
                         "warn at": a.warn_limit, "alert at": a.alert_limit, "z": a.z,
                         "worse when": "higher" if m.worse == "up" else "lower", "status": a.status})
        df = pd.DataFrame(rows)
        if df.empty:
            return df
        df["_sev"] = df["status"].map(SEVERITY)
        return df.sort_values("_sev", ascending=False, kind="stable").drop(columns="_sev").reset_index(drop=True)

    def table(self) -> pd.DataFrame:
        """:meth:`to_df` formatted for reading: shares as percentages, few digits."""
        df = self.to_df()
        if df.empty:
            return df
        out = pd.DataFrame({"figure": df["figure"], "status": df["status"]})
        for col in ("window", "baseline mean", "band low", "band high", "alert at"):
            out[col] = [_fmt(v, MEASURES.get(s, Measure(s, s, s, "up", "")).percent)
                        for v, s in zip(df[col], df["subject"])]
        out["z (sd from mean)"] = df["z"].map(lambda v: "" if v is None or not np.isfinite(v) else f"{v:+.1f}")
        out["worse when"] = df["worse when"]
        return out

    def whole_table(self) -> pd.DataFrame:
        """The whole-period figures (equal exposure counts) formatted for reading."""
        if self.whole.empty:
            return self.whole
        pct = {"top 1% share", "top 10% share", "coverage"}
        counts = {"exposures", "items exposed"}
        out = self.whole.copy()
        for col in ("baseline", "window"):
            out[col] = [f"{v:,.0f}" if f in counts else f"{v:.1%}" if f in pct else f"{v:.3f}"
                        for f, v in zip(out["figure"], out[col])]
        out.columns = ["figure", "baseline period", "window"]
        return out

    def outcomes_table(self) -> pd.DataFrame:
        """Outcome rates per period and exposure kind, formatted for reading."""
        df = self.outcomes
        if df.empty:
            return df
        out = pd.DataFrame({"period": df["period"].map({"baseline": "baseline period", "window": "window"}),
                            "exposures": df["exposures"]})
        for col in ("rows", "labelled", "positives"):
            out[col] = [f"{v:,.0f}" if v is not None and np.isfinite(v) else "" for v in df[col]]
        out["rate"] = [_fmt(v, True) for v in df["rate"]]
        out["95% CI"] = [f"{_fmt(lo, True)} to {_fmt(hi, True)}" if np.isfinite(lo) else ""
                         for lo, hi in zip(df["ci low"], df["ci high"])]
        return out

    def columns_df(self) -> pd.DataFrame:
        """Which column plays which role, and what each is used for."""
        uses = {"item": "concentration, coverage, Lorenz curves, rich-get-richer",
                "user": "homogenisation", "exposed": "model-driven vs organic outcomes",
                "outcome": "outcome rates, positives on favoured items",
                "training_provenance": "training provenance (in the reference data)"}
        return pd.DataFrame([{"role": k, "column": v if v else "(not configured or not found)",
                              "used for": uses[k]} for k, v in self.columns.items()])

    def plot(self, kind: str = "over_time", subjects: Sequence[str] | None = None):
        """Plot one view: ``lorenz``, ``over_time``, ``outcomes``, ``provenance`` or ``predictions``."""
        from .plots import feedback as fplots

        if kind == "lorenz":
            return fplots.lorenz_curves(self)
        if kind == "over_time":
            return fplots.feedback_over_time(self, subjects)
        if kind == "outcomes":
            return fplots.outcome_rates(self)
        if kind == "provenance":
            return fplots.provenance_bars(self)
        if kind == "predictions":
            return fplots.prediction_narrowing(self)
        raise UsageError(f"The 'kind' parameter of FeedbackResult.plot must be one of {', '.join(PLOT_KINDS)}. "
                         f"Got {kind!r} instead.")

    # ----------------------------------------------------------------- recording
    def record(self, recorder: Recorder) -> None:
        """Record every ``feedback_loop`` check, findings, what could not be done, and the verdict."""
        for a in self.checks():
            m = a.measure
            extra = {k: v for k, v in {
                "warn_threshold": a.warn_limit, "baseline_mean": a.baseline_mean, "band_low": a.band_low,
                "band_high": a.band_high, "z": a.z, "rule": a.rule,
                "worse_when": "higher" if m.worse == "up" else "lower",
                "window_chunks": a.chunks, "baseline_chunks": a.baseline_chunks,
                "exposures_per_chunk": self.per_chunk if a.subject in ITEM_SUBJECTS else None,
                "chunk": self.chunk if a.subject != "training_provenance" else None,
            }.items() if v is not None}
            recorder.check("feedback_loop", a.subject, a.status, method=a.method, value=a.value,
                           threshold=a.alert_limit, **extra)
            if a.status != "ok":
                recorder.finding(self._finding(a), a.status)
        for text in self.missing:
            recorder.cannot(text)
        recorder.verdict(self.verdict())
        recorder.artefact("feedback", {
            "status": self.status, "per_chunk": self.per_chunk, "catalogue": self.catalogue,
            "values": {a.subject: a.value for a in self.checks()},
        })

    def _finding(self, a: Assessment) -> str:
        m = a.measure
        base = f" (baseline {_fmt(a.baseline_mean, m.percent)})" if a.baseline_mean is not None else ""
        limit = f", {a.status} limit {_fmt(a.warn_limit if a.status == 'warn' else a.alert_limit, m.percent)}"
        return f"{m.display}: {_fmt(a.value, m.percent)}{base}{limit if a.warn_limit is not None else ''}"

    def verdict(self) -> str:
        """One plain-words sentence on whether the system is feeding on itself."""
        if not self.configured:
            return ("Feedback loops are not monitored for this model: mlmon.yaml has no 'feedback' block "
                    "naming the item, user, exposure, outcome and training-provenance columns.")
        checks = self.checks()
        fired = sorted((a for a in checks if a.status != "ok"),
                       key=lambda a: (-SEVERITY[a.status], _VERDICT_ORDER.index(a.subject)
                                      if a.subject in _VERDICT_ORDER else 99))
        n_alert = sum(a.status == "alert" for a in checks)
        if fired:
            head = "A feedback loop is likely: " if n_alert else "Early signs of a feedback loop: "
            clauses = [_clause(a) for a in fired[:3]]
            text = head + ", ".join(clauses[:-1]) + (" and " if len(clauses) > 1 else "") + clauses[-1]
            tail = (f"{n_alert} of {len(checks)} feedback checks alert" if n_alert
                    else f"{len(fired)} of {len(checks)} feedback checks {'is' if len(fired) == 1 else 'are'} "
                         f"outside the baseline band but not by a material amount")
            return f"{text}; {tail}."
        names = {a.subject for a in checks}
        if names & set(ITEM_SUBJECTS):
            parts = ["exposure concentration", "catalogue coverage"]
            parts += ["homogenisation"] if "homogenisation" in names else []
            parts += ["rich-get-richer correlation"] if "self_reinforcement" in names else []
            return ("No sign of a feedback loop: " + ", ".join(parts[:-1]) + " and " + parts[-1]
                    + " stay within the baseline period's day-to-day variation.")
        if names & set(PREDICTION_SUBJECTS):
            return ("No sign of a feedback loop in the predictions (the model has no item column): their spread "
                    "and extremity stay within the baseline period's day-to-day variation.")
        return "Feedback loops could not be checked for this window: the report says which columns are missing."

    def sentences(self) -> dict[str, str]:
        """Plain-words readings of the descriptive figures (empty strings where not computed)."""
        out = {"lift": "", "favoured": "", "carry_over": "", "provenance": "", "method": ""}
        word = _chunk_word(_parse_chunk(self.chunk))
        if self.per_chunk:
            out["method"] = (f"Every {word} of both periods was subsampled to {self.per_chunk:,} exposures "
                             f"(the smallest full {word} of either period) so that the figures compare like with "
                             f"like; the catalogue is the {self.catalogue:,} items exposed in the baseline period.")
        lift = self.outcome_lift.get("window")
        if lift:
            d, lo, hi = lift["difference"], lift["ci_low"], lift["ci_high"]
            sig = lo > 0 or hi < 0
            out["lift"] = (f"In this window the outcome rate on model-driven exposures is {d * 100:+.2f} points "
                           f"against organic ones (95% CI {lo * 100:+.2f} to {hi * 100:+.2f}): "
                           + ("a clear difference." if sig else "no clear difference."))
            base = self.outcome_lift.get("baseline")
            if base:
                out["lift"] += (f" In the baseline period it was {base['difference'] * 100:+.2f} points "
                                f"({base['ci_low'] * 100:+.2f} to {base['ci_high'] * 100:+.2f}).")
        elif not self.outcomes.empty:
            win = self.outcomes[self.outcomes["period"] == "window"].set_index("exposures")["labelled"]
            lacking = [g for g in ("model-driven", "organic") if not win.get(g, 0)]
            out["lift"] = (f"The window has no labelled {' or '.join(lacking)} exposures, so the two kinds' outcome "
                           f"rates cannot be compared"
                           + (" (every exposure is organic or randomised: nothing for the model to reinforce)."
                              if lacking == ["model-driven"] else "."))
        f = self.favoured
        if f:
            text = (f"The model favoured {f['items']:,} items (the top {FAVOURED_FRACTION:.0%} of the catalogue by "
                    f"{f['basis']} in the baseline period). They received {f['exposure_share']:.1%} of this "
                    f"window's exposures (baseline period: {f['baseline_exposure_share']:.1%})")
            if "positive_share" in f:
                lo, hi = f["positive_ci"]
                text += (f" and {f['positive_share']:.1%} of its positive outcomes (95% CI {lo:.1%} to {hi:.1%}, "
                         f"{f['positives']:,} positives)")
            out["favoured"] = text + "."
        c = self.carry_over
        if c and c.get("rho") is not None and math.isfinite(c["rho"]):
            out["carry_over"] = (f"Across periods, an item's exposure in the baseline period and in this window "
                                 f"have Spearman's rho {c['rho']:.2f} over {c['items']:,} items (positive: items "
                                 f"shown more before are shown more now).")
        p = self.provenance_check
        if p is not None:
            prev = (f"; the previous version with a figure had {p.baseline_mean:.1%}"
                    if p.baseline_mean is not None else "; no earlier version has a figure to compare with")
            out["provenance"] = (f"{p.value:.1%} of the reference data of version {self.version} was produced under "
                                 f"the model's own influence (status {p.status}: {p.rule}){prev}.")
        return out

    def _repr_html_(self) -> str:
        if not self.configured:
            return f"<p>{html.escape(self.verdict())}</p>"
        from .display import format_table

        return f"<p>{html.escape(self.verdict())}</p>" + format_table(self.table())


PLOT_KINDS = ("lorenz", "over_time", "outcomes", "provenance", "predictions")
_VERDICT_ORDER = ("top1pct_share", "coverage", "homogenisation", "exposure_gini", "self_reinforcement",
                  "top10pct_share", "exposure_entropy", "prediction_spread", "prediction_extremity",
                  "training_provenance")


def _clause(a: Assessment) -> str:
    """A short plain-words clause for one fired check."""
    v, b = a.value, a.baseline_mean
    base = f" (baseline {_fmt(b, a.measure.percent)})" if b is not None else ""
    if a.subject == "top1pct_share":
        return f"the top 1% of items took {v:.1%} of exposures per day{base}"
    if a.subject == "top10pct_share":
        return f"the top 10% of items took {v:.1%} of exposures per day{base}"
    if a.subject == "coverage":
        return f"only {v:.1%} of the catalogue was shown per day{base}"
    if a.subject == "exposure_gini":
        return f"the Gini coefficient of exposures rose to {v:.3f}{base}"
    if a.subject == "exposure_entropy":
        return f"the entropy of exposures fell to {v:.3f}{base}"
    if a.subject == "homogenisation" and b:
        return (f"what different users are shown became {v / b:.1f} times as similar (mean Jaccard {_fmt(v)} "
                f"against {_fmt(b)})")
    if a.subject == "self_reinforcement":
        return f"the rich-get-richer correlation rose to {v:.2f}{base}"
    if a.subject == "prediction_spread":
        return f"the spread of the predictions fell to {_fmt(v)}{base}"
    if a.subject == "prediction_extremity":
        return f"{v:.1%} of predictions fall outside the reference's central 90%{base}"
    if a.subject == "training_provenance":
        return f"{v:.0%} of the training data was produced under the model's own influence"
    return f"{a.measure.short} is {_fmt(v, a.measure.percent)}{base}"


def _fmt(v: Any, percent: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if percent:
        return f"{v:.1%}" if abs(v) >= 0.001 else f"{v:.3%}"
    return f"{v:.3g}"


# --------------------------------------------------------------------------- helpers on frames

def _as_bool(s: pd.Series) -> pd.Series:
    """Exposure flags as a nullable boolean: bools, 0/1 numbers, true/false strings."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean")
    if pd.api.types.is_numeric_dtype(s):
        return (s != 0).astype("boolean").mask(s.isna())
    text = s.astype("string").str.strip().str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[text.isin(["true", "1", "yes", "y", "t"])] = True
    out[text.isin(["false", "0", "no", "n", "f"])] = False
    return out


def _keys_pair(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Make two id columns comparable (same dtype) before factorizing them together."""
    def plain(s):
        return s.astype(s.cat.categories.dtype) if isinstance(s.dtype, pd.CategoricalDtype) else s
    a, b = plain(a), plain(b)
    if not (pd.api.types.is_integer_dtype(a) and pd.api.types.is_integer_dtype(b)) and a.dtype != b.dtype:
        a, b = a.astype(str), b.astype(str)
    return a, b


def _parse_chunk(text: str) -> pd.Timedelta:
    unit = {"h": "hours", "d": "days", "w": "weeks"}.get(str(text)[-1:].lower())
    try:
        return pd.Timedelta(**{unit: int(str(text)[:-1])}) if unit else pd.Timedelta(text)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"The 'chunk' setting must look like 1d, 6h or 1w. Got {text!r} instead.") from exc


def _chunk_word(chunk: pd.Timedelta) -> str:
    if chunk == pd.Timedelta(days=1):
        return "day"
    if chunk == pd.Timedelta(weeks=1):
        return "week"
    hours = chunk / pd.Timedelta(hours=1)
    return f"{hours:g}-hour chunk" if hours < 24 else f"{hours / 24:g}-day chunk"


def _fixed_limits(thresholds: Mapping[str, Any], subject: str) -> dict[str, float] | None:
    block = ((thresholds or {}).get("metrics") or {}).get(subject) or {}
    fixed = {k: float(block[k]) for k in ("warn", "alert") if block.get(k) is not None}
    return fixed or None


# --------------------------------------------------------------------------- the analysis

def analyse(ctx: "WindowContext", *, seed: int = 0, pairs: int | None = JACCARD_PAIRS) -> FeedbackResult:
    """Analyse a window for feedback loops against its baseline period.

    Parameters
    ----------
    ctx : WindowContext
        From :func:`mlmon_nb.open_window`.
    seed : int
        Seed of the subsamples and user pairs (results are reproducible).
    pairs : int or None
        User pairs drawn per chunk for homogenisation.

    Returns
    -------
    FeedbackResult
    """
    others = archived_provenance(ctx)
    loaded = {}
    fb = ctx.model.feedback
    if fb is None or not fb.item or fb.item not in ctx.frame.columns:
        loaded = _load_versions(ctx)
    return analyse_frames(ctx.frame, ctx.reference.frame, ctx.model, version=ctx.version.name,
                          baseline=ctx.baseline, other_versions=others, version_models=loaded,
                          seed=seed, pairs=pairs)


def analyse_frames(window: pd.DataFrame, reference: pd.DataFrame, model: "ModelConfig", *, version: str,
                   baseline=None, other_versions: Mapping[str, Mapping[str, Any]] | None = None,
                   version_models: Mapping[str, Any] | None = None, seed: int = 0,
                   pairs: int | None = JACCARD_PAIRS) -> FeedbackResult:
    """The analysis of :func:`analyse` on plain frames (for tests and other callers).

    Parameters
    ----------
    window, reference : DataFrame
        Window rows and reference (baseline-period) rows.
    model : ModelConfig
        Column names, ``feedback`` block, ``thresholds`` and ``chunk``.
    version : str
        The monitored version.
    baseline : Baseline, optional
        Its sample gives the reference predictions when items are missing.
    other_versions : mapping, optional
        ``{version: {"share": float, "rows": int, "source": str}}`` of other
        versions' training provenance (from their archived baselines).
    version_models : mapping, optional
        ``{version: LoadedModel}`` to score the baseline sample with, when items are missing.
    """
    fb = model.feedback
    ts_col = model.timestamp
    chunk_td = _parse_chunk(model.chunk or "1d")
    word = _chunk_word(chunk_td)
    outcome_col = (fb.outcome if fb and fb.outcome else model.target)
    cols: dict[str, str | None] = {
        "item": fb.item if fb else None, "user": fb.user if fb else None,
        "exposed": fb.exposed if fb else None,
        "outcome": outcome_col if outcome_col in window.columns else None,
        "training_provenance": fb.training_provenance if fb else None,
    }
    res = FeedbackResult(model=model.name, version=version, configured=fb is not None, columns=cols,
                         chunk=model.chunk or "1d")
    rng_chunks, rng_whole, rng_pred = np.random.default_rng(seed).spawn(3)
    thresholds = dict(model.thresholds or {})
    margin = float(thresholds.get("band_margin", 0.0) or 0.0)

    if fb is None:
        res.missing.append(
            f"Feedback-loop monitoring needs a 'feedback' block under models.{model.name} in mlmon.yaml naming "
            f"the columns: item (the item shown; needed for concentration, coverage, homogenisation and "
            f"rich-get-richer), user (the user it was shown to; homogenisation), exposed (true when the "
            f"model chose what was shown; model-driven against organic outcomes), outcome (defaults to the "
            f"target) and training_provenance (in the reference data: row produced under the model's "
            f"influence).")
        res.columns = {k: (v if k == "outcome" else None) for k, v in cols.items()}
    else:
        _check_columns(res, fb, window, reference, model)

    item_ok = cols["item"] is not None and cols["item"] in window.columns and window[cols["item"]].notna().any()
    if item_ok:
        _exposure(res, window, reference, model, chunk_td, word, rng_chunks, rng_whole, margin, thresholds, pairs)
        _outcomes(res, window, reference)
    else:
        res.record_predictions = fb is not None
        _predictions(res, window, model, baseline, chunk_td, word, version_models or {}, margin, thresholds)
        if fb is not None:
            res.notes.append("Without an item column the feedback loop is watched through the predictions "
                             "only: a loop shows as predictions narrowing or becoming more extreme.")
        else:
            res.notes.append("Prediction narrowing is shown for information only: without a 'feedback' block "
                             "it is not recorded as a check.")
    if fb is not None:
        _provenance(res, reference, version, other_versions or {}, thresholds)
    # Items the rule would rather not hide: a check whose value could not be computed is not recorded.
    res.assessments = [a for a in res.assessments if a.value is not None and math.isfinite(a.value)]
    return res


def _check_columns(res: FeedbackResult, fb, window: pd.DataFrame, reference: pd.DataFrame, model) -> None:
    base = f"models.{model.name}.feedback"
    if not fb.item:
        res.missing.append(f"Exposure concentration, coverage, homogenisation and rich-get-richer need the item "
                           f"column: add 'item' to {base} in mlmon.yaml.")
    elif fb.item not in window.columns:
        res.missing.append(f"The item column {fb.item!r} ({base}.item) is not in the logs of this window: "
                           f"exposure concentration, coverage, homogenisation and rich-get-richer need it.")
        res.columns["item"] = None
    elif fb.item not in reference.columns:
        res.missing.append(f"The item column {fb.item!r} ({base}.item) is not in the reference data: the "
                           f"baseline bands of concentration and coverage need it there too.")
    if fb.item and res.columns["item"]:
        if not fb.user:
            res.missing.append(f"Homogenisation needs the user column: add 'user' to {base} in mlmon.yaml.")
        elif fb.user not in window.columns or fb.user not in reference.columns:
            where = "logs of this window" if fb.user not in window.columns else "reference data"
            res.missing.append(f"The user column {fb.user!r} ({base}.user) is not in the {where}: "
                               f"homogenisation needs it.")
            res.columns["user"] = None
    if not fb.exposed:
        res.missing.append(f"Outcome rates of model-driven against organic exposures need the exposure flag: "
                           f"add 'exposed' to {base} in mlmon.yaml.")
    elif fb.exposed not in window.columns:
        res.missing.append(f"The exposure flag {fb.exposed!r} ({base}.exposed) is not in the logs of this window: "
                           f"model-driven against organic outcome rates need it.")
        res.columns["exposed"] = None
    if res.columns["outcome"] is None:
        col = fb.outcome or model.target
        res.missing.append(f"The outcome column {col!r} ({base}.outcome, or the target) is not in the window: "
                           f"outcome rates need it.")
    if not fb.training_provenance:
        res.missing.append(f"Training provenance needs a column of the reference data marking rows produced "
                           f"under the model's influence: add 'training_provenance' to {base} in mlmon.yaml.")
    elif fb.training_provenance not in reference.columns:
        res.missing.append(f"The training-provenance column {fb.training_provenance!r} "
                           f"({base}.training_provenance) is not in the reference data.")
        res.columns["training_provenance"] = None


def _exposure(res, window, reference, model, chunk_td, word, rng_chunks, rng_whole, margin, thresholds, pairs):
    item, user, ts = res.columns["item"], res.columns["user"], model.timestamp
    win = window[window[item].notna()]
    if item not in reference.columns:
        return  # already said: the bands need the item column in the reference too
    ref = reference[reference[item].notna()]
    if ref.empty:
        res.missing.append(f"The item column {item!r} of the reference data holds no values: the baseline "
                           f"bands of concentration and coverage need them.")
        return
    ri, wi = _keys_pair(ref[item], win[item])
    codes, uniques = pd.factorize(pd.concat([ri, wi], ignore_index=True), sort=False)
    # Reference items come first, so codes below `catalogue` are the baseline period's catalogue.
    ref_codes, win_codes = codes[:len(ri)], codes[len(ri):]
    catalogue = int(ref_codes.max()) + 1
    res.catalogue = catalogue
    n_codes = len(uniques)
    ref_users = win_users = None
    if user:
        ru, wu = _keys_pair(ref[user], win[user])
        ucodes, _ = pd.factorize(pd.concat([ru, wu], ignore_index=True), sort=False)
        ref_users, win_users = ucodes[:len(ru)], ucodes[len(ru):]

    # Like with like: both periods subsampled to the same exposures per chunk.
    win_keys = _chunk_keys(win[ts], chunk_td)
    wk, wc, wfull = full_chunks(win_keys)
    timed = ts in ref.columns
    if timed:
        ref_keys = _chunk_keys(ref[ts], chunk_td)
        how = f"{word}s of the reference data by its {ts!r} column"
    else:
        size = int(np.median(wc[wfull])) if wfull.any() else len(ref)
        ref_keys = np.arange(len(ref)) // max(size, 1)
        how = f"blocks of {size:,} reference rows in file order"
        res.notes.append(f"The reference data has no timestamp column {ts!r}: its chunks are blocks of "
                         f"{size:,} rows in file order.")
    rk, rc, rfull = full_chunks(ref_keys)
    per_chunk = int(min(rc[rfull].min() if rfull.any() else 0, wc[wfull].min() if wfull.any() else 0))
    frames = []
    if rfull.sum() >= MIN_BAND_CHUNKS and wfull.any() and per_chunk >= MIN_EXPOSURES_PER_CHUNK:
        res.per_chunk = per_chunk
        ref_df = chunk_figures(ref_keys, ref_codes, ref_users, catalogue=catalogue, per_chunk=per_chunk,
                               rng=rng_chunks, use=rk[rfull], pairs=pairs)
        win_df = chunk_figures(win_keys, win_codes, win_users, catalogue=catalogue, per_chunk=per_chunk,
                               rng=rng_chunks, use=wk[wfull], pairs=pairs)
        for period, df in (("baseline", ref_df), ("window", win_df)):
            df = df.copy()
            df.insert(0, "period", period)
            df.insert(1, "start", pd.to_datetime(df["chunk"].to_numpy() * chunk_td.value, utc=True)
                      if timed or period == "window" else pd.NaT)
            frames.append(df)
        res.chunks = pd.concat(frames, ignore_index=True)
        partial = int((~wfull).sum())
        if partial:
            res.notes.append(f"{partial} {word}(s) of the window with fewer than half the median exposures "
                             f"(partial {word}s) were left out of the per-{word} figures.")
        res.notes.append(f"Per-{word} figures: every {word} of the baseline period ({how}) and of the window "
                         f"was subsampled to {per_chunk:,} exposures before computing them; the catalogue "
                         f"is the {catalogue:,} items exposed in the baseline period.")
        for subject in ITEM_SUBJECTS:
            m = MEASURES[subject]
            if subject == "homogenisation" and (ref_users is None or win_users is None):
                continue
            band = band_from_values(ref_df[subject], ref_df["exposures"], scales_with_size=False)
            values = win_df[subject].to_numpy(dtype=float)
            value = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
            if not math.isfinite(value):
                if subject == "self_reinforcement":
                    res.missing.append(f"Rich-get-richer needs two consecutive full {word}s in the window; "
                                       f"this window has none.")
                continue
            if band is not None:
                res.bands[subject] = band
            d = decide(value, band, m.worse, margin=margin, material=m.material,
                       fixed=_fixed_limits(thresholds, subject))
            res.assessments.append(Assessment(
                subject=subject, value=value, status=d["status"], method=m.method, rule=d["rule"],
                baseline_mean=d["baseline_mean"], band_low=d["band_low"], band_high=d["band_high"],
                warn_limit=d["warn_limit"], alert_limit=d["alert_limit"], z=d["z"],
                chunks=int(np.isfinite(values).sum()), baseline_chunks=band.n_chunks if band else None))
    elif rfull.sum() < MIN_BAND_CHUNKS:
        res.missing.append(f"The baseline period has {int(rfull.sum())} full {word}s of exposures; the bands of "
                           f"concentration and coverage need at least {MIN_BAND_CHUNKS}.")
    elif not wfull.any():
        res.missing.append(f"The window holds no full {word} of exposures: per-{word} figures need one.")
    else:
        res.missing.append(f"Too few exposures per {word} ({per_chunk:,}; at least {MIN_EXPOSURES_PER_CHUNK} "
                           f"are needed) to compare concentration with the baseline period.")

    # Whole periods at equal exposure counts: the Lorenz curves and a descriptive table.
    win_counts = np.bincount(win_codes, minlength=n_codes)
    n_eq = int(min(len(ref_codes), len(win_codes)))
    res.whole_exposures = n_eq
    rows = {}
    for period, arr in (("baseline", ref_codes), ("window", win_codes)):
        sub = arr[rng_whole.choice(len(arr), size=n_eq, replace=False)] if len(arr) > n_eq else arr
        c = np.bincount(sub, minlength=n_codes)
        k = max(catalogue, int((c > 0).sum()))
        nz = c[c > 0]
        res.lorenz[period] = lorenz_curve(nz, k) + (gini(nz, k),)
        rows[period] = {"exposures": n_eq, "items exposed": int(nz.size), "Gini": gini(nz, k),
                        "normalised entropy": normalised_entropy(nz, k),
                        "top 1% share": top_share(nz, 0.01, k), "top 10% share": top_share(nz, 0.10, k),
                        "coverage": coverage(nz, k)}
    exposed = res.columns["exposed"]
    if exposed and exposed in reference.columns and exposed in window.columns:
        rflag = _as_bool(ref[exposed]).fillna(False).to_numpy(dtype=bool)
        wflag = _as_bool(win[exposed]).fillna(False).to_numpy(dtype=bool)
        n2 = int(min(rflag.sum(), wflag.sum()))
        if n2 >= MIN_EXPOSURES_PER_CHUNK:
            for period, arr in (("baseline", ref_codes[rflag]), ("window", win_codes[wflag])):
                sub = arr[rng_whole.choice(len(arr), size=n2, replace=False)] if len(arr) > n2 else arr
                c = np.bincount(sub, minlength=n_codes)
                rows[period]["Gini of model-driven exposures"] = gini(c[c > 0], max(catalogue, int((c > 0).sum())))
    res.whole = pd.DataFrame(rows).rename_axis("figure").reset_index()
    # Rich-get-richer across periods: baseline exposure of an item against its window exposure.
    ref_counts = np.bincount(ref_codes, minlength=n_codes)
    rho, p = rich_get_richer(ref_counts, win_counts)
    res.carry_over = {"rho": rho, "p_value": p, "items": n_codes}
    _favoured(res, ref, win, ref_codes, win_codes, n_codes, catalogue)


def _favoured(res, ref, win, ref_codes, win_codes, n_codes, catalogue):
    """Share of the window's exposures and positive outcomes on the items the model favoured before."""
    exposed = res.columns["exposed"]
    prior_rows = np.ones(len(ref_codes), dtype=bool)
    basis = "all exposures"
    if exposed and exposed in ref.columns:
        flag = _as_bool(ref[exposed]).fillna(False).to_numpy(dtype=bool)
        if flag.any():
            prior_rows, basis = flag, "model-driven exposures"
    prior = np.bincount(ref_codes[prior_rows], minlength=n_codes)
    k = max(1, int(math.ceil(FAVOURED_FRACTION * catalogue - 1e-9)))
    favoured = np.zeros(n_codes, dtype=bool)
    favoured[np.argsort(-prior, kind="stable")[:k]] = True
    on = favoured[win_codes]
    out = {"items": k, "basis": basis, "exposures": int(len(win_codes)), "exposure_share": float(on.mean()),
           "baseline_exposure_share": float(favoured[ref_codes].mean())}
    out["exposure_ci"] = wilson_interval(int(on.sum()), len(on))
    outcome = res.columns["outcome"]
    if outcome and outcome in win.columns:
        y = pd.to_numeric(win[outcome], errors="coerce").to_numpy(dtype=float)
        lab = np.isfinite(y) & (y > 0)
        if lab.any():
            weights = y[lab]
            share = float(weights[on[lab]].sum() / weights.sum())
            out.update(positives=int(lab.sum()), positive_share=share,
                       positive_ci=wilson_interval(int(on[lab].sum()), int(lab.sum())))
    res.favoured = out


def _outcomes(res: FeedbackResult, window: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Outcome rate on model-driven against organic exposures, both periods, with Wilson intervals."""
    exposed, outcome = res.columns["exposed"], res.columns["outcome"]
    if not exposed or not outcome:
        return
    rows = []
    lift = {}
    for period, frame in (("baseline", reference), ("window", window)):
        if exposed not in frame.columns or outcome not in frame.columns:
            continue
        flag = _as_bool(frame[exposed])
        y = pd.to_numeric(frame[outcome], errors="coerce")
        binary = bool(y.dropna().isin([0, 1]).all())
        counts = {}
        for group, mask in (("model-driven", flag.eq(True).fillna(False)), ("organic", flag.eq(False).fillna(False))):
            mask = mask.to_numpy(dtype=bool)
            yy = y[mask].dropna()
            n, k = int(len(yy)), float(yy.sum())
            if binary:
                lo, hi = wilson_interval(k, n)
            else:
                se = float(yy.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
                lo, hi = (float(yy.mean()) - 1.96 * se, float(yy.mean()) + 1.96 * se) if n > 1 else (np.nan, np.nan)
            rows.append({"period": period, "exposures": group, "rows": int(mask.sum()), "labelled": n,
                         "positives": k if binary else None, "rate": k / n if n else float("nan"),
                         "ci low": lo, "ci high": hi})
            counts[group] = (k, n)
        if binary and all(counts.get(g, (0, 0))[1] > 0 for g in ("model-driven", "organic")):
            (k1, n1), (k2, n2) = counts["model-driven"], counts["organic"]
            d, lo, hi = rate_difference_interval(k1, n1, k2, n2)
            lift[period] = {"difference": d, "ci_low": lo, "ci_high": hi}
    res.outcomes = pd.DataFrame(rows)
    res.outcome_lift = lift
    if rows and not any(r["labelled"] for r in rows if r["period"] == "window" and r["exposures"] == "organic"):
        res.notes.append("The window has no labelled organic (exposed = false) rows: the model's lift over "
                         "organic exposure cannot be estimated.")


def _provenance(res: FeedbackResult, reference: pd.DataFrame, version: str,
                others: Mapping[str, Mapping[str, Any]], thresholds: Mapping[str, Any]) -> None:
    col = res.columns["training_provenance"]
    rows = []
    for name, info in others.items():
        rows.append({"version": name, "rows": info.get("rows"), "share": info.get("share"),
                     "ci low": info.get("ci_low"), "ci high": info.get("ci_high"),
                     "deployed": info.get("deployed"), "source": info.get("source", "")})
    share = float("nan")
    if col and col in reference.columns:
        flag = _as_bool(reference[col]).dropna()
        if len(flag):
            k, n = int(flag.sum()), int(len(flag))
            share = k / n
            lo, hi = wilson_interval(k, n)
            mine = {"version": version, "rows": n, "share": share, "ci low": lo, "ci high": hi,
                    "deployed": next((r["deployed"] for r in rows if r["version"] == version), None),
                    "source": "reference data of this run"}
            rows = [r for r in rows if r["version"] != version] + [mine]
    if not rows:
        return
    df = pd.DataFrame(rows)
    df["_order"] = pd.to_datetime(df["deployed"], errors="coerce")
    df = df.sort_values(["_order", "version"], na_position="first", kind="stable").drop(columns="_order")
    res.provenance = df.reset_index(drop=True)
    if not math.isfinite(share):
        return
    known = df[df["share"].notna()].reset_index(drop=True)
    pos = known.index[known["version"] == version]
    previous = float(known.loc[pos[0] - 1, "share"]) if len(pos) and pos[0] > 0 else None
    fixed = _fixed_limits(thresholds, "training_provenance") or {}
    warn_at = float(fixed.get("warn", PROVENANCE_WARN))
    alert_at = float(fixed.get("alert", PROVENANCE_ALERT))
    status = "alert" if share >= alert_at else "warn" if share >= warn_at else "ok"
    rule = f"fixed limits: warn at {warn_at:.0%}, alert at {alert_at:.0%} of rows"
    if previous is not None:
        rule += f"; warn when {PROVENANCE_RISE_WARN:.0%} points above the previous version"
        if status == "ok" and share - previous >= PROVENANCE_RISE_WARN:
            status = "warn"
    res.provenance_check = Assessment(subject="training_provenance", value=share, status=status, method="share",
                                      rule=rule, baseline_mean=previous, warn_limit=warn_at,
                                      alert_limit=alert_at)


# --------------------------------------------------------------------------- predictions (no items)

def prediction_figures(values: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """(sd, share outside [low, high]) of some predictions; NaN without values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return float("nan"), float("nan")
    return float(v.std(ddof=1)), float(np.mean((v < low) | (v > high)))


def _predictions(res, window, model, baseline, chunk_td, word, version_models, margin, thresholds):
    """Spread and extremity of the predictions per chunk, against the baseline sample's chunks."""
    pred = model.prediction
    if baseline is None or pred not in window.columns:
        res.missing.append(f"Prediction narrowing needs the prediction column {pred!r} in the logs and an "
                           f"archived baseline.")
        return
    sample = baseline.sample
    bcol = baseline.prediction_column
    ts = model.timestamp
    sorted_ref = baseline.sorted_values.get(bcol)
    if sorted_ref is None or len(sorted_ref) < 20 or bcol not in sample.columns:
        res.missing.append("Prediction narrowing needs the reference predictions in the baseline.")
        return
    low, high = np.quantile(sorted_ref, EXTREME_QUANTILES)
    rows = []
    for period, frame, col in (("baseline", sample, bcol), ("window", window, pred)):
        if ts not in frame.columns:
            continue
        keys = _chunk_keys(frame[ts], chunk_td)
        uniq, counts, full = full_chunks(keys)
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        order = np.argsort(keys, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for j, key in enumerate(uniq):
            if not full[j]:
                continue
            sd, tail = prediction_figures(values[order[bounds[j]:bounds[j + 1]]], low, high)
            rows.append({"period": period, "chunk": int(key),
                         "start": pd.Timestamp(int(key) * chunk_td.value, tz="UTC"),
                         "exposures": int(counts[j]), "prediction_spread": sd, "prediction_extremity": tail})
    df = pd.DataFrame(rows)
    res.predictions = df
    if df.empty or not (df["period"] == "baseline").any() or not (df["period"] == "window").any():
        res.missing.append(f"Prediction narrowing needs timestamps in the baseline sample and the window.")
        return
    ref_df, win_df = df[df["period"] == "baseline"], df[df["period"] == "window"]
    for subject in PREDICTION_SUBJECTS:
        m = MEASURES[subject]
        band = band_from_values(ref_df[subject], ref_df["exposures"], scales_with_size=False)
        value = float(win_df[subject].mean())
        d = decide(value, band, m.worse, margin=margin, material=m.material,
                   fixed=_fixed_limits(thresholds, subject))
        res.assessments.append(Assessment(
            subject=subject, value=value, status=d["status"], method=m.method, rule=d["rule"],
            baseline_mean=d["baseline_mean"], band_low=d["band_low"], band_high=d["band_high"],
            warn_limit=d["warn_limit"], alert_limit=d["alert_limit"], z=d["z"], chunks=len(win_df),
            baseline_chunks=band.n_chunks if band else None))
    res.notes.append(f"Prediction spread and extremity: per {word}, against the {word}s of the baseline's "
                     f"sample of reference predictions; extremity is the share outside the reference's "
                     f"central 90% ({low:.3g} to {high:.3g}).")
    if version_models:
        from .models import score

        vrows = []
        for name, loaded in version_models.items():
            try:
                p = score(loaded, sample)
            except Exception as exc:  # a version that cannot score the sample is reported, not fatal
                logger.warning("version %s could not score the baseline sample: %s", name, exc)
                res.notes.append(f"Version {name} could not score the baseline sample ({type(exc).__name__}).")
                continue
            p = p if p.ndim == 1 else p.max(axis=1)
            sd, tail = prediction_figures(p, low, high)
            vrows.append({"version": name, "rows": int(len(p)), "prediction_spread": sd,
                          "prediction_extremity": tail})
        res.prediction_versions = pd.DataFrame(vrows)


# --------------------------------------------------------------------------- other versions

def archived_provenance(ctx: "WindowContext") -> dict[str, dict[str, Any]]:
    """Training provenance of the model's other versions, from their archived baselines.

    A version whose newest baseline was fitted on the same reference data (same
    fingerprint) shares this run's figure; a baseline manifest holding a
    ``feedback.training_provenance`` figure gives it directly; other versions
    are listed without a figure.
    """
    from . import baseline as bl

    out: dict[str, dict[str, Any]] = {}
    fb = ctx.model.feedback
    col = fb.training_provenance if fb else None
    share = float("nan")
    lo = hi = float("nan")
    n = 0
    if col and col in ctx.reference.frame.columns:
        flag = _as_bool(ctx.reference.frame[col]).dropna()
        n = int(len(flag))
        if n:
            share = float(flag.mean())
            lo, hi = wilson_interval(int(flag.sum()), n)
    for name, vcfg in ctx.model.versions.items():
        deployed = vcfg.deployed.isoformat() if vcfg.deployed else None
        if name == ctx.version.name:
            out[name] = {"deployed": deployed}
            continue
        entry: dict[str, Any] = {"deployed": deployed, "share": None, "rows": None,
                                 "source": "no archived baseline"}
        bid = bl.latest_baseline_id(ctx.project, ctx.model.name, name)
        if bid:
            path = bl.baseline_root(ctx.project, ctx.model.name, name) / bid / "baseline.json"
            try:
                manifest = json.loads(Path(path).read_text())
            except (OSError, ValueError):
                manifest = {}
            stored = ((manifest.get("feedback") or {}).get("training_provenance") or {})
            if stored.get("share") is not None:
                entry.update(share=stored["share"], rows=stored.get("rows"), source=f"baseline {bid}")
            elif (manifest.get("reference") or {}).get("fingerprint") == ctx.reference.fingerprint and n:
                entry.update(share=share, rows=n, ci_low=lo, ci_high=hi,
                             source=f"baseline {bid}: same reference data")
            else:
                entry["source"] = f"baseline {bid}: other reference data, no provenance figure"
        out[name] = entry
    return out


def _load_versions(ctx: "WindowContext") -> dict[str, Any]:
    """Every version whose model file loads (for prediction narrowing across versions)."""
    from .errors import MlmonError
    from .models import load_model

    out = {}
    for name, vcfg in ctx.model.versions.items():
        if vcfg.model is None:
            continue
        try:
            out[name] = load_model(ctx.model, vcfg)
        except MlmonError as exc:
            logger.warning("version %s not loaded: %s", name, exc)
    return out
