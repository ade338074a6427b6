"""The data-drift notebook's one call: every analysis of a window, composed into a :class:`DataDrift`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

from ..config import FeaturesConfig
from ..errors import MlmonError
from ..profiles import count_non_finite
from .labels import label_drift
from .multivariate import multivariate
from .prediction import prediction_drift, window_scores
from .quality import missing_rates
from .result import DataDrift
from .summarised import analyse_scan
from .univariate import univariate


def analyse(ctx, *, seed: int = 0, statistics: Sequence[str] | str = (), multivariate_checks: bool = True) -> DataDrift:
    """Run every data-drift analysis of a window context (what the notebook calls).

    Parameters
    ----------
    ctx : WindowContext
        From :func:`mlmon_nb.open_window`.
    seed : int
        Seed of the samples and classifiers.
    statistics : sequence of str, or a comma-separated str
        Extra registered statistics per feature (see :func:`~mlmon_nb.drift.univariate`).
    multivariate_checks : bool
        Run the domain classifier and PCA reconstruction.

    A context opened in summary mode (``ctx.scan`` set: a window above
    :data:`mlmon_nb.summary.SUMMARISE_ABOVE` rows, or an engine other than DuckDB) is analysed by
    :func:`mlmon_nb.drift.summarised.analyse_scan`: one aggregation pass and a bounded sample.

    Returns
    -------
    DataDrift
        Its ``notes`` say what could not be done and what it needs.
    """
    if isinstance(statistics, str):
        statistics = [s.strip() for s in statistics.split(",") if s.strip()]
    if getattr(ctx, "scan", None) is not None:  # opened in summary mode: the window is never read into memory
        return analyse_scan(ctx, seed=seed, statistics=statistics, multivariate_checks=multivariate_checks)
    rng = np.random.default_rng(seed)
    base = ctx.baseline
    frame = ctx.frame
    mcfg = ctx.model
    thr = ctx.thresholds
    features = FeaturesConfig(numeric=tuple(ctx.features.numeric), categorical=tuple(ctx.features.categorical))
    # The joint checks (gradient boosting, PCA) run on the second core while the univariate statistics
    # (sorts and binary searches) run here: both spend their time in code that releases the GIL.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlmon-multivariate") as pool:
        joint = pool.submit(multivariate, base, frame, features=features, thresholds=thr,
                            rng=rng) if multivariate_checks else None
        uni = univariate(base, frame, features=features, thresholds=thr, timestamp=mcfg.timestamp,
                         chunk=mcfg.chunk, start=ctx.start, end=ctx.end, statistics=statistics)
        mv = joint.result() if joint is not None else None
    quality = missing_rates(base, frame, features=features, thresholds=thr)
    notes = [f"Non-finite values: {r.text()}." for r in quality.non_finite]
    try:
        scores, source = window_scores(frame, mcfg.task, mcfg.prediction)
        if scores is None:  # only now load the model file (logged scores make it unnecessary)
            scores, source = window_scores(frame, mcfg.task, mcfg.prediction, ctx.estimator,
                                           [*features.numeric, *features.categorical])
    except MlmonError as exc:  # the model cannot score these rows: say so, the rest still runs
        scores, source = None, str(exc)
    pred = None
    if scores is None:
        notes.append(f"Prediction drift: the window has no usable prediction column {mcfg.prediction!r} and the "
                     f"model could not score it{': ' + source if source else ''}; log the scores or configure "
                     f"the version's model.")
    else:
        pred = prediction_drift(base, scores, subject=mcfg.prediction, thresholds=thr, source=source)
        bad = count_non_finite(scores)
        if bad:
            notes.append(f"Prediction drift: {bad:,} non-finite scores ({bad / len(scores):.2%}) were left out.")
    labels = None
    if mcfg.target in frame.columns:
        labels = label_drift(base, frame[mcfg.target], task=mcfg.task, subject=mcfg.target, thresholds=thr)
    if labels is None:
        notes.append(f"Label drift: no labelled rows in this window (column {mcfg.target!r}) or no target in the "
                     f"reference; configure models.{mcfg.name}.labels to join late labels.")
    if mv is not None:
        notes.extend(f"Multivariate drift: {n}" for n in mv.notes)
    if uni.over_time is not None:
        notes.extend(uni.over_time.notes)
    if not uni.has_importance:
        notes.append("Impact ranking: the baseline has no feature importance (no model file when it was fitted); "
                     "features are ranked by effect alone.")
    return DataDrift(univariate=uni, quality=quality, prediction=pred, labels=labels, multivariate=mv,
                     notes=tuple(notes))
