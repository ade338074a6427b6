"""One window, end to end: explain it against its baseline (global, drift, cohort, local, dependence).

A window opened in summary mode (``ctx.scan`` set: a large window, or an engine other than DuckDB)
is never read into memory: its rows to explain come from a bounded, seeded sample the engine draws
(:data:`SAMPLE_ROWS` at most, stratified by day and label), and the result's ``how`` says so.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import drift
from ..errors import UsageError
from .attribution_drift import attribution_drift
from .cohort_result import CohortComparison
from .cohorts import CohortError, CohortSpec, parse_cohort
from .dependence import MAX_DEPENDENCE, dependence
from .explainers import Explainer, make_explainer
from .local import TOP_SURPRISING, surprising
from .reliance import MIN_RELIANCE_ROWS, target_array
from .result import COHORT_NOTE, ExplainResult
from .reuse import baseline_attributions
from .selection import cohort_mask

MAX_ROWS = 2000
"""Window rows explained by default (the notebook's ``max_rows``)."""
BACKGROUND_ROWS = 50
"""Background rows of the model-agnostic explainer (masking values)."""
SAMPLE_ROWS = 200_000
"""Summary mode: most window rows drawn by the engine (explained rows, cohorts, the drift recomputation)."""
DAY_STRATUM = "__day__"  # the engines' name of the UTC-day stratum of Scan.sample


def _sample_positions(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= k else np.sort(rng.choice(n, size=k, replace=False))


def drifted_features(ctx, columns: Sequence[str], sample: pd.DataFrame | None = None) -> tuple[list[str], str]:
    """Features that drifted in the window (alerting first), and where that came from.

    From the data-drift notebook of the same run when it ran (its ``data_drift``
    artefact: ``alerting_features`` then ``warning_features``); otherwise recomputed with
    :func:`mlmon_nb.drift.univariate`, the data-drift notebook's own rule, at warn or above:
    on the window's rows, or on ``sample`` when given (summary mode: the bands are scaled to
    the sample's rows, so the rule keeps its false-alarm rate and loses some power).
    """
    recorded = ctx.artefact("data_drift").get("data_drift")
    if isinstance(recorded, Mapping):
        listed = [*(recorded.get("alerting_features") or []), *(recorded.get("warning_features") or [])]
        return [str(f) for f in listed if str(f) in columns], "the data-drift notebook of this run"
    rows = ctx.frame if sample is None else sample
    res = drift.univariate(ctx.baseline, rows, features=ctx.features, thresholds=ctx.thresholds)
    where = "" if sample is None else f" on the window's sample of {len(sample):,} rows"
    return [f for f in res.drifted("warn") if f in columns], f"the data-drift rule, recomputed here{where}"


def window_rows(ctx, *, seed: int, task: str) -> tuple[pd.DataFrame, int, tuple[str, ...]]:
    """The rows to explain from, the window's rows, and how they were read.

    In memory: ``ctx.frame``. In summary mode: ``ctx.scan.sample`` of at most :data:`SAMPLE_ROWS`
    rows, stratified by UTC day and (classifiers) label, seeded, in time order as ``ctx.frame`` is;
    the sentence returned says so.
    """
    scan = getattr(ctx, "scan", None)
    if scan is None:
        frame = ctx.frame
        return frame, len(frame), ()
    target = ctx.model.target
    by_label = target in scan.columns and task != "regression"  # a regression target is no stratum
    sample = scan.sample(SAMPLE_ROWS, strata=[DAY_STRATUM, *([target] if by_label else [])], seed=seed)
    ts = ctx.model.timestamp
    if ts in sample.columns:  # the engine returns strata in turn; the analysis reads rows in time order
        sample = sample.sort_values(ts, kind="stable").reset_index(drop=True)
    rows = ctx.rows
    by = "day and label" if by_label else "day"
    if len(sample) >= rows:
        how = (f"Explained on all {rows:,} of the window's rows, drawn by the {scan.engine} engine as a "
               f"stratified sample (by {by}; at most {SAMPLE_ROWS:,} rows): the window was not read into memory.")
    else:
        how = (f"Explained on a stratified sample of {len(sample):,} of the window's {rows:,} rows (by {by}, "
               f"seed {seed}, drawn by the {scan.engine} engine): the explained rows, the cohort and the "
               f"surprising predictions come from it; the window was not read into memory.")
    return sample, rows, (how,)


def analyse(ctx, *, max_rows: int = MAX_ROWS, seed: int = 0, cohort: str = "",
            top: int = TOP_SURPRISING) -> ExplainResult:
    """Explain a window against its baseline: global, drift, cohort, local and dependence.

    Parameters
    ----------
    ctx : WindowContext
        From :func:`mlmon_nb.open_window`.
    max_rows : int
        Window rows explained at most (a seeded sample); the baseline side explains up to
        ``BASELINE_FACTOR`` times as many rows of the baseline sample, for the bands (the
        model-agnostic explainer: at most ``AGNOSTIC_MAX_ROWS`` and twice as many).
    seed : int
        Seed of every sample and of the permutation explainer.
    cohort : str
        See :func:`mlmon_nb.explain.parse_cohort`.
    top : int
        Surprising predictions to explain one by one.

    Returns
    -------
    ExplainResult
        What could not be done (no model file, missing columns, too few labels, a bad
        cohort) is in its ``notes``.

    Raises
    ------
    UsageError
        For a bad ``max_rows`` or ``seed``. A bad cohort does not raise: it becomes a note.
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 50:
        raise UsageError(f"The 'max_rows' parameter of analyse must be an int >= 50. Got {max_rows!r} instead.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"The 'seed' parameter of analyse must be an int >= 0. Got {seed!r} instead.")
    max_rows, seed = int(max_rows), int(seed)
    rng = np.random.default_rng(seed)
    mcfg = ctx.model
    task = mcfg.task
    base_sample = ctx.baseline.sample
    if ctx.estimator is None:  # before the window is read or sampled: nothing of it would be used
        return ExplainResult(max_rows=max_rows, seed=seed, task=task, window_total=ctx.rows,
                             baseline_total=len(base_sample), notes=(
            f"No model file for version {ctx.version.name}: set models.{mcfg.name}.versions."
            f"{ctx.version.name}.model in mlmon.yaml to explain its predictions.",))
    frame, total, how = window_rows(ctx, seed=seed, task=task)
    sampled = bool(how)
    sizes = dict(max_rows=max_rows, seed=seed, task=task, window_total=total, baseline_total=len(base_sample),
                 window_sample=len(frame) if sampled else 0, how=how)
    if len(frame) == 0:
        return ExplainResult(**sizes, notes=("The window holds no rows of this version: nothing to explain.",))
    columns = list(ctx.estimator.features) or [*ctx.features.numeric, *ctx.features.categorical]
    missing = [c for c in columns if c not in base_sample.columns or c not in frame.columns]
    if missing:
        return ExplainResult(**sizes, notes=(
            f"The model's feature columns {', '.join(missing)} are missing from the window or the baseline sample: "
            f"attributions need every feature the model takes.",))

    caveats, notes = [], []
    if task == "multiclass_classification":
        caveats.append("Multiclass model: attributions explain the last class's margin; outcome reliance "
                       "(which needs a single score) is not computed.")
    if mcfg.timestamp in base_sample.columns:
        base_sample = base_sample.sort_values(mcfg.timestamp, kind="stable")
    bg_pos = _sample_positions(len(base_sample), BACKGROUND_ROWS, rng)
    background = base_sample.iloc[bg_pos]
    explainer = make_explainer(ctx.estimator, columns, background=background, seed=seed)
    cap = explainer.row_cap(max_rows)
    if explainer.kind == "permutation":
        caveats.append(f"{explainer.reason}: the model-agnostic explainer is slow, so at most {cap:,} window rows "
                       f"(and {explainer.baseline_factor * cap:,} baseline rows) are explained.")
    b_pos = _sample_positions(len(base_sample), explainer.baseline_factor * cap, rng)
    w_pos = _sample_positions(len(frame), cap, rng)
    base_rows, win_rows = base_sample.iloc[b_pos], frame.iloc[w_pos]
    base_attr = baseline_attributions(explainer, base_rows, ctx.baseline, b_pos, bg_pos)  # once per baseline
    win_attr = explainer.explain(win_rows)
    err = max(win_attr.additivity_error(), base_attr.additivity_error())
    if np.isfinite(err) and err > 1e-3 * max(1.0, float(np.max(np.abs(win_attr.output)))):
        caveats.append(f"Additivity is off by up to {err:.3g} {explainer.units}: the attributions do not add up "
                       f"exactly to the model's output.")

    target = mcfg.target
    has_target = target in frame.columns and task != "multiclass_classification"
    yb = base_rows[target].to_numpy(dtype=object) if has_target and target in base_rows.columns else None
    yw = win_rows[target].to_numpy(dtype=object) if has_target else None
    drift_result = attribution_drift(base_attr, win_attr, baseline_target=yb, window_target=yw, task=task,
                                     thresholds=ctx.thresholds)
    if task != "multiclass_classification" and drift_result.labelled_window_rows < MIN_RELIANCE_ROWS:
        notes.append(
            f"Outcome reliance (the labelled part of attribution drift, which detects concept drift) needs at least "
            f"{MIN_RELIANCE_ROWS} labelled rows in the explained sample; {drift_result.labelled_window_rows} of "
            f"{len(win_attr):,} have '{target}'" + (f" (labels join late from models.{mcfg.name}.labels)."
                                                   if mcfg.labels else "."))

    spec = comparison = None
    try:
        spec = parse_cohort(cohort, ctx.artefact("concept_drift"))
        if spec is not None:
            comparison = _compare_cohort(spec, explainer, frame, base_sample, ctx, cap, rng, task, sampled)
    except CohortError as exc:
        notes.append(f"{COHORT_NOTE}{exc}")

    id_col = mcfg.operational.request_id if mcfg.operational and mcfg.operational.request_id else None
    ids = win_rows[id_col].astype(str).to_numpy() if id_col and id_col in win_rows.columns else None
    local = surprising(win_attr, yw, k=top, task=task, ids=ids)

    drifted, drifted_source = drifted_features(ctx, columns, frame if sampled else None)
    kinds = {**{c: "numeric" for c in ctx.features.numeric}, **{c: "categorical" for c in ctx.features.categorical}}
    dependences = {
        f: dependence(base_attr, win_attr, f,
                      kinds.get(f, "numeric" if pd.api.types.is_numeric_dtype(frame[f]) else "categorical"))
        for f in drifted[:MAX_DEPENDENCE]}
    return ExplainResult(
        **sizes, explainer=explainer, units=explainer.units, baseline=base_attr, window=win_attr,
        drift=drift_result, cohort_spec=spec, cohort=comparison, local=tuple(local), drifted=tuple(drifted),
        drifted_source=drifted_source, dependence=MappingProxyType(dependences), caveats=tuple(caveats),
        notes=tuple(notes), background=background)


def _scores(frame: pd.DataFrame, column: str | None, explainer: Explainer) -> np.ndarray:
    """The score per row that ranks top/bottom cohorts: the logged column, else the model's output."""
    if column and column in frame.columns:
        return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    return explainer.output(frame)


def _compare_cohort(spec: CohortSpec, explainer: Explainer, frame: pd.DataFrame, base_sample: pd.DataFrame, ctx,
                    cap: int, rng: np.random.Generator, task: str, sampled: bool) -> CohortComparison:
    scored = spec.kind in ("top", "bottom")
    if scored and task == "multiclass_classification":
        raise CohortError(f"cohort {spec.text!r}: top/bottom scores need a single score; pass a query instead")
    w_score = _scores(frame, ctx.model.prediction, explainer) if scored else None
    w_mask = cohort_mask(frame, spec, score=w_score)
    b_score = _scores(base_sample, ctx.baseline.prediction_column, explainer) if scored else None
    share = (int(w_mask.sum()) / len(frame)) if scored and len(frame) else None
    b_mask = cohort_mask(base_sample, spec, score=b_score, share=share)
    w_rows = frame[w_mask]
    b_rows = base_sample[b_mask]
    w_rows = w_rows.iloc[_sample_positions(len(w_rows), cap, rng)]
    b_rows = b_rows.iloc[_sample_positions(len(b_rows), cap, rng)]
    target = ctx.model.target
    has_target = target in frame.columns and task != "multiclass_classification"
    return CohortComparison(
        spec=spec, baseline=explainer.explain(b_rows), window=explainer.explain(w_rows),
        baseline_rows=len(b_rows), window_rows=len(w_rows), baseline_total=int(b_mask.sum()),
        window_total=int(w_mask.sum()),
        baseline_target=target_array(b_rows[target].to_numpy(dtype=object), len(b_rows))
        if has_target and target in b_rows.columns else None,
        window_target=target_array(w_rows[target].to_numpy(dtype=object), len(w_rows)) if has_target else None,
        task=task, window_size=len(frame), of_sample=sampled)
