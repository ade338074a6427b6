"""Exposures item by item: concentration, coverage, homogenisation and rich-get-richer.

Per chunk (one day by default, ``chunk`` in mlmon.yaml) both periods are
subsampled to the same number of exposures ``m`` (without replacement, seeded)
before any figure is computed: ``m`` is the smallest exposure count of a full
chunk in either period. The catalogue is the set of items exposed in the
baseline period (a chunk exposing more distinct items uses its own count).
Each figure's window value (the mean of its chunks) is judged against its
band over the baseline chunks (:mod:`.decision`).

The whole periods, subsampled to equal exposure counts, give the Lorenz curves
and a descriptive table; the items the model favoured in the baseline period
give the share of the window's exposures and positive outcomes they took.
"""

from __future__ import annotations

import math
import numpy as np
import pandas as pd

from ..chunks import chunk_word
from ..config import Thresholds
from ..rules import fit_band
from .chunking import chunk_keys, chunk_starts, full_chunks, period_chunk_figures
from .columns import Columns, as_bool, keys_pair
from .concentration import coverage, gini, lorenz_curve, normalised_entropy, top_share
from .decision import Assessment, assess
from .measures import ITEM_SUBJECTS, MEASURES
from .periods import Exposures, PeriodItems, count_cells, rows_homogenisation
from .reinforcement import FAVOURED_FRACTION, rich_get_richer, wilson_interval
from .result import Exposure

__all__ = ["MIN_BAND_CHUNKS", "MIN_EXPOSURES_PER_CHUNK", "analyse_exposure", "exposure_figures", "item_codes"]

MIN_BAND_CHUNKS = 5
"""Fewest full baseline chunks a band needs."""
MIN_EXPOSURES_PER_CHUNK = 50
"""Fewest exposures per chunk (after equalising) worth comparing."""


def analyse_exposure(window: pd.DataFrame, reference: pd.DataFrame, columns: Columns, timestamp: str,
                     chunk: pd.Timedelta, thresholds: Thresholds, *, rng_chunks: np.random.Generator,
                     rng_whole: np.random.Generator, pairs: int | None) -> Exposure | None:
    """Every item-level figure of the window against the baseline period (None without items in the reference).

    The window's rows are first reduced to counts per (chunk, item), as the summary path
    (:mod:`.summarised`) gets them from the engine, and read the same way from there on.
    ``rng_chunks`` draws the per-chunk subsamples and user pairs, ``rng_whole`` the whole-period
    subsamples.
    """
    item, user = columns.item, columns.user
    if item not in reference.columns:
        return None  # already noted by resolve_columns: the bands need the item column in the reference too
    win = window[window[item].notna()]
    ref = reference[reference[item].notna()]
    if ref.empty:
        return no_reference_items(item)
    ref_codes, win_codes, n_codes = item_codes(ref[item], win[item])
    win_keys = chunk_keys(win[timestamp], chunk)
    cell_keys, cells = count_cells(win_keys, win_codes)
    driven = positives = weight = None
    exposed, outcome = columns.exposed, columns.outcome
    if exposed and exposed in ref.columns and exposed in win.columns:
        driven = Exposures(win_codes[as_bool(win[exposed]).fillna(False).to_numpy(dtype=bool)])
    if outcome and outcome in win.columns:
        y = pd.to_numeric(win[outcome], errors="coerce").to_numpy(dtype=float)
        lab = np.isfinite(y) & (y > 0)
        positives, weight = Exposures(win_codes[lab]), Exposures(win_codes[lab], y[lab])
    homogenisation = rows_homogenisation(win_keys, win[user], win[item], pairs) if user else None
    items = PeriodItems(keys=cell_keys, exposures=cells, driven=driven, positives=positives, positive_weight=weight,
                        homogenisation=homogenisation)
    return exposure_figures(ref, ref_codes, n_codes, items, columns, timestamp, chunk, thresholds,
                            rng_chunks=rng_chunks, rng_whole=rng_whole, pairs=pairs)


def no_reference_items(item: str) -> Exposure:
    """The result when the reference's item column is empty."""
    return Exposure(notes=(f"The item column {item!r} of the reference data holds no values: the baseline "
                           f"bands of concentration and coverage need them.",))


def item_codes(reference_items: pd.Series, window_items: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """(reference codes, window codes, number of codes).

    The reference's items come first, in order of appearance, so codes below the reference's
    largest + 1 are the baseline period's catalogue; items only in the window follow in sorted
    order, so the window's codes do not depend on the order its rows or cells are read in.
    """
    ri, wi = keys_pair(reference_items, window_items)
    ref_codes, catalogue = pd.factorize(ri, sort=False)
    new = pd.Index(pd.unique(wi))
    new = new[~new.isin(catalogue)]
    try:
        new = new.sort_values()
    except TypeError:  # values that do not sort together (numbers and strings): sorted as text
        new = new[np.argsort(new.astype(str).to_numpy(), kind="stable")]
    uniques = pd.Index(catalogue).append(new)
    return ref_codes, uniques.get_indexer(wi), len(uniques)


def exposure_figures(ref: pd.DataFrame, ref_codes: np.ndarray, n_codes: int, window: PeriodItems, columns: Columns,
                     timestamp: str, chunk: pd.Timedelta, thresholds: Thresholds, *,
                     rng_chunks: np.random.Generator, rng_whole: np.random.Generator,
                     pairs: int | None) -> Exposure:
    """The item-level figures from the reference's rows and the window as :class:`PeriodItems` (both paths).

    The reference's rows are reduced to counts per (chunk, item) too, and both periods' chunks
    are read by :func:`period_chunk_figures` with the same ``rng``, the reference's first.
    """
    catalogue = int(ref_codes.max()) + 1
    per_chunk, chunks, assessments, notes, remarks = _per_chunk(
        ref, ref_codes, window, columns.user, catalogue=catalogue, n_codes=n_codes, timestamp=timestamp, chunk=chunk,
        thresholds=thresholds, rng=rng_chunks, pairs=pairs)
    whole_exposures, lorenz, whole = _whole_periods(ref, ref_codes, window, n_codes, catalogue, columns.exposed,
                                                    rng_whole)
    # Rich-get-richer across periods: baseline exposure of an item against its window exposure.
    rho, p = rich_get_richer(np.bincount(ref_codes, minlength=n_codes), window.exposures.counts(n_codes))
    return Exposure(
        catalogue=catalogue, per_chunk=per_chunk, chunks=chunks, assessments=assessments,
        whole=whole, whole_exposures=whole_exposures, lorenz=lorenz,
        carry_over={"rho": rho, "p_value": p, "items": n_codes},
        favoured=_favoured(ref, ref_codes, window, n_codes, catalogue, columns),
        notes=notes, remarks=remarks)


def _per_chunk(ref, ref_codes, window: PeriodItems, user: str | None, *, catalogue, n_codes, timestamp, chunk,
               thresholds, rng, pairs):
    """(per_chunk, chunks, assessments, notes, remarks): both periods' chunks at equal exposure counts."""
    word = chunk_word(chunk)
    notes: list[str] = []
    remarks: list[str] = []
    wk, wc, wfull = full_chunks(window.keys, window.exposures.weights)
    timed = timestamp in ref.columns
    if timed:
        ref_keys = chunk_keys(ref[timestamp], chunk)
        how = f"{word}s of the reference data by its {timestamp!r} column"
    else:
        size = int(np.median(wc[wfull])) if wfull.any() else len(ref)
        ref_keys = np.arange(len(ref)) // max(size, 1)
        how = f"blocks of {size:,} reference rows in file order"
        remarks.append(f"The reference data has no timestamp column {timestamp!r}: its chunks are blocks of "
                       f"{size:,} rows in file order.")
    rk, rc, rfull = full_chunks(ref_keys)
    per_chunk = int(min(rc[rfull].min() if rfull.any() else 0, wc[wfull].min() if wfull.any() else 0))
    if rfull.sum() < MIN_BAND_CHUNKS:
        notes.append(f"The baseline period has {int(rfull.sum())} full {word}s of exposures; the bands of "
                     f"concentration and coverage need at least {MIN_BAND_CHUNKS}.")
    elif not wfull.any():
        notes.append(f"The window holds no full {word} of exposures: per-{word} figures need one.")
    elif per_chunk < MIN_EXPOSURES_PER_CHUNK:
        notes.append(f"Too few exposures per {word} ({per_chunk:,}; at least {MIN_EXPOSURES_PER_CHUNK} "
                     f"are needed) to compare concentration with the baseline period.")
    if notes:
        return None, pd.DataFrame(), (), tuple(notes), tuple(remarks)

    ref_cell_keys, ref_cells = count_cells(ref_keys, ref_codes)
    ref_homogenisation = (rows_homogenisation(ref_keys, ref[user], pd.Series(ref_codes), pairs)
                          if user and user in ref.columns else None)
    reference = PeriodItems(keys=ref_cell_keys, exposures=ref_cells, homogenisation=ref_homogenisation)
    ref_df = period_chunk_figures(reference, catalogue=catalogue, n_codes=n_codes, per_chunk=per_chunk, rng=rng,
                                  use=rk[rfull])
    win_df = period_chunk_figures(window, catalogue=catalogue, n_codes=n_codes, per_chunk=per_chunk, rng=rng,
                                  use=wk[wfull])
    # An untimed reference has no chunk starts: NaT of the window's dtype keeps the column datetime.
    ref_starts = chunk_starts(ref_df["chunk"], chunk) if timed else pd.DatetimeIndex([pd.NaT] * len(ref_df), tz="UTC")
    chunks = pd.concat([ref_df.assign(period="baseline", start=ref_starts),
                        win_df.assign(period="window", start=chunk_starts(win_df["chunk"], chunk))],
                       ignore_index=True)
    chunks = chunks[["period", "start", *ref_df.columns]]
    partial = int((~wfull).sum())
    if partial:
        remarks.append(f"{partial} {word}(s) of the window with fewer than half the median exposures "
                       f"(partial {word}s) were left out of the per-{word} figures.")
    remarks.append(f"Per-{word} figures: every {word} of the baseline period ({how}) and of the window "
                   f"was subsampled to {per_chunk:,} exposures before computing them; the catalogue "
                   f"is the {catalogue:,} items exposed in the baseline period.")
    assessments: list[Assessment] = []
    for subject in ITEM_SUBJECTS:
        if subject == "homogenisation" and (reference.homogenisation is None or window.homogenisation is None):
            continue
        values = win_df[subject].to_numpy(dtype=float)
        value = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        if not math.isfinite(value):
            if subject == "self_reinforcement":
                notes.append(f"Rich-get-richer needs two consecutive full {word}s in the window; "
                             f"this window has none.")
            continue
        band = fit_band(ref_df[subject], ref_df["exposures"], scales_with_size=False)
        assessments.append(assess(MEASURES[subject], value, band, thresholds, chunks=int(np.isfinite(values).sum())))
    return per_chunk, chunks, tuple(assessments), tuple(notes), tuple(remarks)


def _whole_periods(ref, ref_codes, window: PeriodItems, n_codes, catalogue, exposed, rng):
    """(exposures, Lorenz curves, table) of both whole periods subsampled to equal exposure counts."""
    reference = Exposures(ref_codes)
    n_eq = int(min(reference.total(), window.exposures.total()))
    rows = {}
    lorenz = {}
    for period, exp in (("baseline", reference), ("window", window.exposures)):
        c = exp.draw(n_eq, rng, n_codes)
        k = max(catalogue, int((c > 0).sum()))
        nz = c[c > 0]
        lorenz[period] = lorenz_curve(nz, k) + (gini(nz, k),)
        rows[period] = {"exposures": n_eq, "items exposed": int(nz.size), "Gini": gini(nz, k),
                        "normalised entropy": normalised_entropy(nz, k),
                        "top 1% share": top_share(nz, 0.01, k), "top 10% share": top_share(nz, 0.10, k),
                        "coverage": coverage(nz, k)}
    if exposed and exposed in ref.columns and window.driven is not None:
        rflag = as_bool(ref[exposed]).fillna(False).to_numpy(dtype=bool)
        ref_driven = Exposures(ref_codes[rflag])
        n2 = int(min(ref_driven.total(), window.driven.total()))
        if n2 >= MIN_EXPOSURES_PER_CHUNK:
            for period, exp in (("baseline", ref_driven), ("window", window.driven)):
                c = exp.draw(n2, rng, n_codes)
                rows[period]["Gini of model-driven exposures"] = gini(c[c > 0], max(catalogue, int((c > 0).sum())))
    return n_eq, lorenz, pd.DataFrame(rows).rename_axis("figure").reset_index()


def _favoured(ref, ref_codes, window: PeriodItems, n_codes, catalogue, columns: Columns) -> dict:
    """Share of the window's exposures and positive outcomes on the items the model favoured before."""
    exposed = columns.exposed
    prior_rows = np.ones(len(ref_codes), dtype=bool)
    basis = "all exposures"
    if exposed and exposed in ref.columns:
        flag = as_bool(ref[exposed]).fillna(False).to_numpy(dtype=bool)
        if flag.any():
            prior_rows, basis = flag, "model-driven exposures"
    prior = np.bincount(ref_codes[prior_rows], minlength=n_codes)
    k = max(1, int(math.ceil(FAVOURED_FRACTION * catalogue - 1e-9)))
    favoured = np.zeros(n_codes, dtype=bool)
    favoured[np.argsort(-prior, kind="stable")[:k]] = True
    counts = window.exposures.counts(n_codes)
    total, on = int(counts.sum()), int(counts[favoured].sum())
    out = {"items": k, "basis": basis, "exposures": total, "exposure_share": on / total if total else float("nan"),
           "baseline_exposure_share": float(favoured[ref_codes].mean()),
           "exposure_ci": wilson_interval(on, total)}
    if window.positives is not None and window.positives.total():
        pos = window.positives.counts(n_codes)
        weights = np.bincount(window.positive_weight.codes, weights=window.positive_weight.weights,
                              minlength=n_codes)
        out.update(positives=int(pos.sum()), positive_share=float(weights[favoured].sum() / weights.sum()),
                   positive_ci=wilson_interval(int(pos[favoured].sum()), int(pos.sum())))
    return out
