"""Binning: how a column is cut into segments (levels, quartile bins) and written as a query."""

from __future__ import annotations

import json
import keyword
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..config import FeaturesConfig
from ..errors import UsageError

__all__ = ["Binning", "make_binnings", "score_binning", "score_values", "SCORE_COLUMN", "MIN_SEGMENT_ROWS",
           "MAX_LEVELS", "QUARTILES"]

MIN_SEGMENT_ROWS = 100
MAX_LEVELS = 12
QUARTILES = (25, 50, 75)
SCORE_COLUMN = "__score_bin__"


@dataclass(frozen=True)
class Binning:
    """How one column is cut into segments: levels or quartile bins, with query pieces."""

    feature: str
    kind: str
    labels: tuple[str, ...]
    queries: tuple[str, ...]
    edges: tuple[float, ...] = ()
    levels: tuple[Any, ...] = ()

    def codes(self, s: pd.Series) -> np.ndarray:
        """Bin index of each value, -1 for missing or unlisted levels."""
        if self.kind == "numeric":
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            idx = np.searchsorted(np.asarray(self.edges, dtype=float), v, side="left")
            return np.where(np.isfinite(v), idx, -1)
        lookup = {lvl: i for i, lvl in enumerate(self.levels)}
        return s.astype(object).map(lookup).fillna(-1).astype(int).to_numpy()


def _ident(name: str) -> str:
    """A column name as pandas ``query`` reads it (backticks unless a plain identifier)."""
    if name.isidentifier() and not keyword.iskeyword(name) and name not in ("and", "or", "not", "in", "True",
                                                                              "False", "None"):
        return name
    if "`" in name:
        raise UsageError(f"column {name!r} contains a backtick: it cannot be written in a pandas query")
    return f"`{name}`"


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return json.dumps(str(value))


def _fmt(v: float) -> str:
    return f"{v:,.4g}"


def make_binnings(frame: pd.DataFrame, features: FeaturesConfig, *, profiles: Mapping[str, Any] | None = None,
                  reference: pd.DataFrame | None = None, extra_categorical: Sequence[str] = ()) -> list[Binning]:
    """Quartile bins of numeric features (baseline profile quantiles) and levels of categorical ones.

    Categorical levels with fewer than :data:`MIN_SEGMENT_ROWS` rows in
    ``frame`` are left out (at most :data:`MAX_LEVELS` per feature).
    """
    out = []
    profiles = profiles or {}
    for name in features.numeric:
        if name not in frame.columns:
            continue
        prof = profiles.get(name) or {}
        q = prof.get("quantiles") or []
        if len(q) == 101:
            qs = [q[k] for k in QUARTILES if q[k] is not None]
        else:
            src = reference[name] if reference is not None and name in reference.columns else frame[name]
            v = pd.to_numeric(src, errors="coerce").dropna().to_numpy(dtype=float)
            qs = list(np.percentile(v, QUARTILES)) if len(v) else []
        edges = tuple(sorted({float(e) for e in qs if e is not None and np.isfinite(e)}))
        if not edges:
            continue
        col = _ident(name)
        labels, queries = [], []
        bounds = [-np.inf, *edges, np.inf]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if not np.isfinite(lo):
                labels.append(f"{name} ≤ {_fmt(hi)}")
                queries.append(f"{col} <= {_literal(hi)}")
            elif not np.isfinite(hi):
                labels.append(f"{name} > {_fmt(lo)}")
                queries.append(f"{col} > {_literal(lo)}")
            else:
                labels.append(f"{_fmt(lo)} < {name} ≤ {_fmt(hi)}")
                queries.append(f"{col} > {_literal(lo)} and {col} <= {_literal(hi)}")
        out.append(Binning(name, "numeric", tuple(labels), tuple(queries), edges=edges))
    for name in dict.fromkeys([*features.categorical, *extra_categorical]):
        if name not in frame.columns or any(b.feature == name for b in out):
            continue
        counts = frame[name].astype(object).value_counts(dropna=True)
        levels = [lvl for lvl, c in counts.items() if c >= MIN_SEGMENT_ROWS][:MAX_LEVELS]
        if not levels:
            continue
        col = _ident(name)
        out.append(Binning(name, "categorical", tuple(f"{name} = {lvl}" for lvl in levels),
                           tuple(f"{col} == {_literal(lvl)}" for lvl in levels), levels=tuple(levels)))
    return out


def score_values(scores: np.ndarray) -> np.ndarray:
    """One score per row: the score, or the largest class probability."""
    return scores.max(axis=1) if scores.ndim == 2 else scores


def score_binning(ref_scores: np.ndarray) -> Binning:
    """Deciles of the reference scores, as the bins of a column ``__score_bin__``."""
    v = score_values(ref_scores)
    edges = tuple(sorted(set(np.round(np.percentile(v, np.arange(10, 100, 10)), 12))))
    bounds = [-np.inf, *edges, np.inf]
    labels = tuple(f"score decile {i + 1}" for i in range(len(bounds) - 1))
    return Binning(SCORE_COLUMN, "numeric", labels, labels, edges=edges)
