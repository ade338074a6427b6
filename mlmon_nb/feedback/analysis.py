"""The analysis of a window: every part computed on its own, then the result built once.

:func:`analyse` reads a :class:`~mlmon_nb.context.WindowContext` (the window,
the reference data, the baseline, other versions' archived baselines and model
files); :func:`analyse_frames` does the same on plain frames.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..chunks import DEFAULT_CHUNK, parse_chunk
from ..config import ModelConfig
from ..errors import MlmonError
from ..models import load_model
from .columns import resolve_columns
from .exposure import analyse_exposure
from .homogenisation import JACCARD_PAIRS
from .outcomes import analyse_outcomes
from .predictions import analyse_predictions
from .provenance import analyse_provenance, archived_provenance
from .result import FeedbackResult
from .summarised import analyse_scan

logger = logging.getLogger(__name__)

__all__ = ["analyse", "analyse_frames"]


def analyse(ctx, *, seed: int = 0, pairs: int | None = JACCARD_PAIRS) -> FeedbackResult:
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
    fb = ctx.model.feedback
    others = archived_provenance(ctx) if fb is not None else {}
    scan = getattr(ctx, "scan", None)
    loaded = {}
    if fb is None or not fb.item or fb.item not in (scan.columns if scan is not None else ctx.frame.columns):
        loaded = _load_versions(ctx)
    if scan is not None:  # summary mode: the engine aggregates the window, its rows are never read
        return analyse_scan(ctx, seed=seed, pairs=pairs, other_versions=others, version_models=loaded)
    return analyse_frames(ctx.frame, ctx.reference.frame, ctx.model, version=ctx.version.name,
                          baseline=ctx.baseline, other_versions=others, version_models=loaded,
                          seed=seed, pairs=pairs)


def analyse_frames(window: pd.DataFrame, reference: pd.DataFrame, model: ModelConfig, *, version: str,
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
    seed, pairs
        As for :func:`analyse`.
    """
    configured = model.feedback is not None
    chunk_text = model.chunk or DEFAULT_CHUNK
    chunk = parse_chunk(chunk_text, f"models.{model.name}.chunk")
    columns = resolve_columns(model, window, reference)
    rng_chunks, rng_whole = np.random.default_rng(seed).spawn(2)
    exposure = outcomes = predictions = provenance = None
    if columns.item is not None and window[columns.item].notna().any():
        exposure = analyse_exposure(window, reference, columns, model.timestamp, chunk, model.thresholds,
                                    rng_chunks=rng_chunks, rng_whole=rng_whole, pairs=pairs)
        outcomes = analyse_outcomes(window, reference, columns)
    else:
        predictions = analyse_predictions(window, model, baseline, chunk, model.thresholds, version_models or {},
                                          recorded=configured)
    if configured:
        provenance = analyse_provenance(reference, columns.training_provenance, version, other_versions or {},
                                        model.thresholds)
    return FeedbackResult(model=model.name, version=version, chunk=chunk_text, configured=configured,
                          columns=columns, exposure=exposure, outcomes=outcomes, provenance=provenance,
                          predictions=predictions)


def _load_versions(ctx) -> dict[str, Any]:
    """Every version whose model file loads (for prediction narrowing across versions)."""
    out = {}
    for name, vcfg in ctx.model.versions.items():
        if vcfg.model is None:
            continue
        try:
            out[name] = load_model(ctx.model, vcfg)
        except MlmonError as exc:
            logger.warning("version %s not loaded: %s", name, exc)
    return out
