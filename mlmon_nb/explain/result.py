"""Result objects of the explainability area: attribution drift per feature, and the window's whole result.

Built once by :func:`mlmon_nb.explain.attribution_drift` and :func:`mlmon_nb.explain.analyse`,
never changed afterwards. Figures come from :mod:`mlmon_nb.plots.explain`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from ..checks import SEVERITY, recording
from ..display import format_table
from ..errors import UsageError
from ..plots import explain as explain_plots
from . import plain
from .attributions import Attribution
from .cohort_result import CohortComparison
from .cohorts import CohortSpec
from .crosscheck import lime_check
from .dependence import Dependence
from .explainers import Explainer
from .local import LocalExplanation
from .methods import METHODS

COHORT_NOTE = "Cohort not analysed: "
"""How the note on a cohort that could not be analysed starts."""


@dataclass(frozen=True)
class FeatureAttributionDrift:
    """The attribution-drift figures of one feature (the rule: :mod:`mlmon_nb.explain.attribution_drift`)."""

    feature: str
    status: str
    method: str
    effect: float
    threshold: float
    rank_baseline: int
    rank_window: int
    importance_baseline: float
    importance_window: float
    share_baseline: float
    share_window: float
    share_low: float
    share_high: float
    share_status: str
    distance: float
    distance_high: float
    distance_status: str
    reliance_baseline: float
    reliance_window: float
    reliance_low: float
    reliance_high: float
    reliance_p: float
    reliance_status: str
    mean_baseline: float
    mean_window: float

    def reason(self, units: str = "log-odds") -> str:
        """One plain sentence on what decided the status."""
        if self.method == "attribution_reliance":
            direction = ("reversed" if self.reliance_window < 0 else "weakened" if
                         self.reliance_window < self.reliance_baseline else "strengthened")
            return (f"Outcomes no longer follow the model's use of {self.feature}: its effect has {direction} "
                    f"(outcome reliance {self.reliance_baseline:.2f} at baseline, {self.reliance_window:.2f} now; "
                    f"1 = as the model assumes, 0 = no effect, below 0 = reversed).")
        if self.method == "attribution_distance":
            return (f"How {self.feature} moves the model's predictions changed (SHAP distance {self.distance:.3f} "
                    f"of the total attribution, band up to {self.distance_high:.3f}; mean SHAP "
                    f"{self.mean_baseline:+.3f} → {self.mean_window:+.3f} {units}).")
        return (f"{self.feature}'s share of the model's attribution changed: {self.share_baseline:.1%} → "
                f"{self.share_window:.1%} (rank {self.rank_baseline} → {self.rank_window}).")


@dataclass(frozen=True)
class AttributionDriftResult:
    """Attribution drift of a window against the baseline sample, one row per feature.

    ``limits`` holds the (warn, alert) floor of each figure; ``sigmas`` the band half-width.
    """

    features: tuple[FeatureAttributionDrift, ...]
    baseline: Attribution = field(repr=False)
    window: Attribution = field(repr=False)
    baseline_target: np.ndarray | None = field(repr=False)
    window_target: np.ndarray | None = field(repr=False)
    task: str
    limits: Mapping[str, tuple[float, float]]
    sigmas: float
    overdispersion: float
    chunks: int
    labelled_window_rows: int
    labelled_baseline_rows: int

    @property
    def units(self) -> str:
        return self.window.units

    def to_df(self) -> pd.DataFrame:
        """One row per feature, the most severe first, then by effect relative to its threshold."""
        df = pd.DataFrame([f.__dict__ for f in self.features])
        if df.empty:
            return df
        df["_sev"] = df["status"].map(SEVERITY)
        df["_ratio"] = df["effect"] / df["threshold"]
        df = df.sort_values(["_sev", "_ratio"], ascending=[False, False], kind="stable")
        return df.drop(columns=["_sev", "_ratio"]).reset_index(drop=True)

    def importance_df(self) -> pd.DataFrame:
        """Global importance at baseline and now (mean |SHAP| in :attr:`units`), with rank changes,
        in the window's rank order."""
        rows = []
        for f in sorted(self.features, key=lambda f: f.rank_window):
            move = f.rank_baseline - f.rank_window
            rows.append({"feature": f.feature, "rank now": f.rank_window, "rank base": f.rank_baseline,
                         "change": "=" if move == 0 else (f"↑{move}" if move > 0 else f"↓{-move}"),
                         "mean |SHAP| base": f.importance_baseline, "mean |SHAP| now": f.importance_window,
                         "share base": f.share_baseline, "share now": f.share_window})
        return pd.DataFrame(rows)

    def table_df(self) -> pd.DataFrame:
        """The drift figures, formatted for reading (one row per feature, most severe first)."""
        df = self.to_df()
        if df.empty:
            return df

        def band(lo, hi):
            return "" if not (np.isfinite(lo) and np.isfinite(hi)) else f"{lo:.2f}, {hi:.2f}"

        return pd.DataFrame({
            "feature": df["feature"],
            "status": df["status"],
            "decided by": [METHODS[m].short if st != "ok" else "" for m, st in zip(df["method"], df["status"])],
            "share: base → now [band]": [
                f"{a:.1%} → {b:.1%}" + (f" [{lo:.1%}, {hi:.1%}]" if np.isfinite(lo) else "")
                for a, b, lo, hi in zip(df["share_baseline"], df["share_window"], df["share_low"], df["share_high"])],
            "distance [band]": [f"{d:.3f}" + (f" [≤ {h:.3f}]" if np.isfinite(h) else "")
                                for d, h in zip(df["distance"], df["distance_high"])],
            "reliance: base → now [band]": [
                "n/a" if not np.isfinite(b)
                else f"{a:.2f} → {b:.2f}" + (f" [{band(lo, hi)}]" if np.isfinite(lo) else "")
                for a, b, lo, hi in zip(df["reliance_baseline"], df["reliance_window"], df["reliance_low"],
                                        df["reliance_high"])],
        })

    def flagged(self, status: str = "warn", method: str | None = None) -> list[str]:
        """Features at or above a status (optionally decided by one method), most severe first."""
        df = self.to_df()
        if df.empty:
            return []
        keep = df["status"].map(SEVERITY) >= SEVERITY[status]
        if method:
            keep &= df[f"{method.removeprefix('attribution_')}_status"].map(SEVERITY) >= SEVERITY[status]
        return df.loc[keep, "feature"].tolist()

    def record(self, recorder) -> None:
        """Record one ``attribution_drift`` check per feature, and a finding per flagged one."""
        order = {name: i for i, name in enumerate(self.to_df()["feature"])} if self.features else {}
        for f in sorted(self.features, key=lambda f: order[f.feature]):
            figures = {
                "share_baseline": f.share_baseline, "share_window": f.share_window,
                "share_band_low": f.share_low, "share_band_high": f.share_high,
                "rank_baseline": f.rank_baseline, "rank_window": f.rank_window,
                "distance": f.distance, "distance_band_high": f.distance_high,
                "reliance_baseline": f.reliance_baseline, "reliance_window": f.reliance_window,
                "reliance_band_low": f.reliance_low, "reliance_band_high": f.reliance_high,
                "share_status": f.share_status, "distance_status": f.distance_status,
                "reliance_status": f.reliance_status, "units": self.units,
                "baseline_rows": len(self.baseline), "window_rows": len(self.window),
                "labelled_window_rows": self.labelled_window_rows, "band_sigmas": self.sigmas,
                "warn_threshold": self.limits[f.method][0],
            }
            p = f.reliance_p if f.method == "attribution_reliance" else None
            recorder.check("attribution_drift", f.feature, f.status, method=f.method, value=f.effect,
                           threshold=f.threshold, p_value=p, **figures)
            if f.status != "ok":
                recorder.finding(f.reason(self.units), f.status)

    def plot(self, kind: str = "importance", feature: str | None = None):
        """Plot the result: ``importance``, ``reliance`` (all features) or ``outcome`` (one feature)."""
        if kind == "importance":
            return explain_plots.attribution_importance(self)
        if kind == "reliance":
            return explain_plots.attribution_reliance(self)
        if kind == "outcome":
            if feature is None:
                raise UsageError("The 'feature' parameter of AttributionDriftResult.plot is required for "
                                 "kind='outcome'.")
            return explain_plots.attribution_outcome(self, feature)
        raise UsageError(f"The 'kind' parameter of AttributionDriftResult.plot must be 'importance', 'reliance' "
                         f"or 'outcome'. Got {kind!r} instead.")

    def outcome_bins(self, feature: str, bins: int = 8) -> pd.DataFrame:
        """Observed minus predicted outcome per bin of the feature's attribution, baseline and window.

        Bins are quantiles of the baseline's attribution values. Classifiers: percentage
        points of the positive rate; regressors: target units.
        """
        phi_b = self.baseline.values[feature].to_numpy()
        edges = np.unique(np.quantile(phi_b, np.linspace(0, 1, bins + 1))) if len(phi_b) else np.array([0.0, 1.0])
        edges[0], edges[-1] = -np.inf, np.inf
        rows = []
        for side, attr, y in (("baseline", self.baseline, self.baseline_target),
                              ("window", self.window, self.window_target)):
            if y is None or attr.output is None:
                continue
            phi = attr.values[feature].to_numpy()
            ok = np.isfinite(y)
            which = np.clip(np.searchsorted(edges, phi, side="right") - 1, 0, len(edges) - 2)
            for b in range(len(edges) - 1):
                sel = ok & (which == b)
                n = int(sel.sum())
                if n < 5:
                    continue
                if self.task == "regression":
                    resid = y[sel] - attr.output[sel]
                    mean, se = float(resid.mean()), float(resid.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
                else:
                    p = 1 / (1 + np.exp(-attr.output[sel]))
                    mean = float((y[sel] - p).mean() * 100)
                    se = float(math.sqrt(np.sum(p * (1 - p))) / n * 100)
                rows.append({"side": side, "bin": b, "attribution": float(np.median(phi[sel])), "rows": n,
                             "observed_minus_predicted": mean, "se": se})
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        return format_table(self.table_df())


TABLES = ("drift", "figures", "importance", "setup", "cohort")
PLOTS = ("importance", "reliance", "outcome", "dependence", "cohort")


@dataclass(frozen=True)
class ExplainResult:
    """Everything the explainability notebook shows for one window (see :func:`mlmon_nb.explain.analyse`).

    Attributes
    ----------
    drift : AttributionDriftResult or None
        Attribution drift per feature (None when nothing could be explained: see :attr:`notes`).
    cohort_spec, cohort : CohortSpec, CohortComparison or None
        The cohort investigated and its comparison with the baseline.
    local : tuple of LocalExplanation
        The most surprising predictions.
    drifted, drifted_source : tuple of str, str
        Features whose inputs drifted, and who said so; ``dependence`` holds the first few.
    caveats : tuple of str
        How to read the figures (slow explainer, multiclass margin, inexact additivity).
    notes : tuple of str
        What could not be done, and which configuration or columns it needs.
    how : tuple of str
        How the window's rows were read when that is not the usual way (summary mode: a
        stratified sample drawn by the engine); shown beside the verdict, not a limitation.
    window_total, window_sample : int
        The window's rows; the rows of its sample in summary mode (0 in memory).
    """

    max_rows: int
    seed: int
    task: str
    explainer: Explainer | None = None
    units: str = "log-odds"
    baseline: Attribution | None = field(default=None, repr=False)
    window: Attribution | None = field(default=None, repr=False)
    drift: AttributionDriftResult | None = None
    cohort_spec: CohortSpec | None = None
    cohort: CohortComparison | None = None
    local: tuple[LocalExplanation, ...] = ()
    drifted: tuple[str, ...] = ()
    drifted_source: str = ""
    dependence: Mapping[str, Dependence] = field(default_factory=dict)
    window_total: int = 0
    baseline_total: int = 0
    caveats: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    background: pd.DataFrame | None = field(default=None, repr=False)
    window_sample: int = 0
    how: tuple[str, ...] = ()

    @property
    def cohort_note(self) -> str | None:
        """Why the cohort could not be analysed (None when it was, or when none was asked for)."""
        return next((n[len(COHORT_NOTE):] for n in self.notes if n.startswith(COHORT_NOTE)), None)

    @recording
    def record(self, recorder) -> None:
        """Record the attribution-drift checks and findings, what could not be done, and the verdict."""
        if self.drift is not None:
            self.drift.record(recorder)
        for what in self.notes:
            recorder.cannot(what)
        recorder.verdict(self.verdict())

    def summary(self) -> tuple[str, ...]:
        """Three plain sentences for anyone (no SHAP, log-odds or distances): which inputs drive the
        predictions now, what changed since the baseline, for whom (:mod:`mlmon_nb.explain.plain`)."""
        return plain.summary(self)

    def verdict(self) -> str:
        """One sentence on the window's attributions."""
        if self.drift is None:
            return ("Explainability could not run: " + (self.notes[0] if self.notes else "nothing to explain") +
                    ("" if not self.notes or self.notes[0].endswith(".") else "."))
        n = len(self.drift.features)
        rel = self.drift.flagged("warn", "attribution_reliance")
        moved = [f for f in self.drift.flagged("warn") if f not in rel]
        size = f"{len(self.window):,} window and {len(self.baseline):,} baseline rows explained"
        if not rel and not moved:
            return (f"No attribution drift: the model's reasoning on this window matches the baseline for all {n} "
                    f"features ({size}).")
        parts = []
        by = {f.feature: f for f in self.drift.features}
        if rel:
            parts.append("outcomes no longer follow the model's use of " + ", ".join(
                f"{f} (outcome reliance {by[f].reliance_baseline:.2f} → {by[f].reliance_window:.2f}: its effect "
                f"{'reversed' if by[f].reliance_window < 0 else 'changed'})" for f in rel[:3]))
        if moved:
            because = all(f in self.drifted for f in moved)
            names = ", ".join(moved[:4]) + ("…" if len(moved) > 4 else "")
            why = (", whose inputs drifted" if len(moved) > 1 else ", whose input drifted") if because else ""
            parts.append(("its" if rel else "the model's") + f" attributions moved for {names}{why}")
        return f"Attribution drift in {len(rel) + len(moved)} of {n} features: {' and '.join(parts)} ({size})."

    def table(self, kind: str = "drift") -> pd.DataFrame:
        """A table of the result.

        Parameters
        ----------
        kind : {"drift", "figures", "importance", "setup", "cohort"}
            ``drift``: the attribution-drift figures formatted for reading, most severe first;
            ``figures``: the same as numbers (one row per feature); ``importance``: global
            importance at baseline and now; ``setup``: how the attributions were computed;
            ``cohort``: the cohort's figures at baseline and now. Empty when that part did not run.
        """
        if kind not in TABLES:
            raise UsageError(f"The 'kind' parameter of ExplainResult.table must be one of {', '.join(TABLES)}. "
                             f"Got {kind!r} instead.")
        if kind == "setup":
            return self._setup_df()
        if kind == "cohort":
            return self.cohort.table_df() if self.cohort is not None else pd.DataFrame()
        if self.drift is None:
            return pd.DataFrame()
        return {"drift": self.drift.table_df, "figures": self.drift.to_df,
                "importance": self.drift.importance_df}[kind]()

    def _setup_df(self) -> pd.DataFrame:
        """How the attributions were computed: explainer, units, sample sizes, seed, additivity."""
        if self.explainer is None:
            return pd.DataFrame(columns=["what", "value"])
        rows = [("explainer", self.explainer.label), ("why", self.explainer.reason),
                ("attribution units", f"{self.units} (base value + sum of a row's SHAP values = model output)"),
                ("window rows explained", f"{len(self.window):,} of {self.window_total:,} (seeded sample, max_rows "
                                          f"{self.max_rows:,}"
                                          + (f", drawn from the engine's stratified sample of "
                                             f"{self.window_sample:,} rows)" if self.window_sample else ")")),
                ("baseline rows explained", f"{len(self.baseline):,} of the baseline sample's {self.baseline_total:,} "
                                            f"(up to {self.explainer.baseline_factor} × the window cap, in time "
                                            f"order for the bands)"),
                ("seed", str(self.seed))]
        if self.drift is not None:
            rows.append(("labelled rows (outcome reliance)", f"{self.drift.labelled_window_rows:,} window, "
                                                             f"{self.drift.labelled_baseline_rows:,} baseline"))
            rows.append(("bands", f"{self.drift.chunks} time-ordered baseline chunks, ± {self.drift.sigmas:.2f} sd; "
                                  f"reliance over-dispersion {self.drift.overdispersion:.2f}"))
        if self.background is not None and self.explainer.kind == "permutation":
            rows.append(("background rows", f"{len(self.background):,} from the baseline sample"))
        err = max(self.window.additivity_error(), self.baseline.additivity_error())
        rows.append(("additivity check", f"max |base + Σ SHAP − model output| = {err:.2g} {self.units}"))
        return pd.DataFrame(rows, columns=["what", "value"])

    def plot(self, kind: str, feature: str | None = None):
        """A figure: ``importance``, ``reliance``, ``outcome`` (one feature), ``dependence`` (one
        drifted feature) or ``cohort``."""
        if kind not in PLOTS:
            raise UsageError(f"The 'kind' parameter of ExplainResult.plot must be one of {', '.join(PLOTS)}. "
                             f"Got {kind!r} instead.")
        if kind == "dependence":
            if feature not in self.dependence:
                raise UsageError(f"The 'feature' parameter of ExplainResult.plot for kind='dependence' must be one "
                                 f"of {', '.join(self.dependence) or '(no drifted feature)'}. Got {feature!r} instead.")
            return self.dependence[feature].plot()
        part = self.cohort if kind == "cohort" else self.drift
        if part is None:
            raise UsageError(f"ExplainResult.plot({kind!r}): that part did not run in this window; see its notes.")
        return part.plot() if kind == "cohort" else part.plot(kind, feature=feature)

    def lime(self, local: LocalExplanation, num_samples: int = 1000) -> pd.DataFrame:
        """LIME beside SHAP for one row (raises ImportError naming the extra when lime is missing)."""
        bg = self.background if self.background is not None else self.baseline.data
        return lime_check(self.explainer, local, bg, seed=self.seed, num_samples=num_samples)

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(self.verdict())}</b></p>" + format_table(self._setup_df())
