"""Raw feature columns <-> a float matrix (categorical levels as codes), for shap and LIME.

Both the model-agnostic explainer and LIME perturb rows as numbers; the model takes
the raw columns. A :class:`Codec` learns the levels of the categorical columns once and
translates both ways (unknown or missing levels become NaN, and back None).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd


class Codec:
    """Encode raw feature columns as floats and decode them back.

    Examples
    --------
    >>> c = Codec([pd.DataFrame({"d": ["b", "a"], "x": [1.0, 2.0]})], ["d", "x"])
    >>> c.encode(pd.DataFrame({"d": ["a", "z"], "x": [3.0, 4.0]})).tolist()
    [[0.0, 3.0], [nan, 4.0]]
    >>> c.decode([[1.0, 5.0]]).to_dict("records")
    [{'d': 'b', 'x': 5.0}]
    """

    def __init__(self, frames: Sequence[pd.DataFrame], columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.levels: dict[str, list[str]] = {}
        for c in self.columns:
            parts = [f[c] for f in frames if c in f.columns]
            s = pd.concat(parts) if parts else pd.Series(dtype=float)
            if not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)):
                self.levels[c] = sorted({str(v) for v in s.dropna().astype(object)})

    @property
    def categorical(self) -> list[int]:
        """Positions of the categorical columns."""
        return [i for i, c in enumerate(self.columns) if c in self.levels]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows as a float matrix: numeric values as they are, levels as their codes."""
        out = np.empty((len(frame), len(self.columns)), dtype=float)
        for i, c in enumerate(self.columns):
            if c in self.levels:
                lookup = {v: k for k, v in enumerate(self.levels[c])}
                s = frame[c].astype(object)
                out[:, i] = [np.nan if v is None or (isinstance(v, float) and math.isnan(v))
                             else lookup.get(str(v), np.nan) for v in s]
            else:
                out[:, i] = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
        return out

    def decode(self, z: np.ndarray) -> pd.DataFrame:
        """A float matrix back to raw columns (codes rounded; out-of-range codes become None)."""
        z = np.atleast_2d(np.asarray(z, dtype=float))
        cols = {}
        for i, c in enumerate(self.columns):
            if c in self.levels:
                lv = np.asarray(self.levels[c] + [None], dtype=object)
                codes = np.where(np.isfinite(z[:, i]), np.rint(np.nan_to_num(z[:, i], nan=-1)), -1).astype(int)
                codes = np.where((codes >= 0) & (codes < len(self.levels[c])), codes, len(self.levels[c]))
                cols[c] = lv[codes]
            else:
                cols[c] = z[:, i]
        return pd.DataFrame(cols)
