"""The columns of the ``feedback`` block: which are configured and present, and what is missing.

:func:`resolve_columns` reads ``models.<name>.feedback`` once and checks each
column against the window and the reference data; a role whose column is not
usable is None, and a note says what it is needed for and how to provide it.
Also the helpers that read those columns (exposure flags, id columns).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import pandas as pd

from ..config import ModelConfig

__all__ = ["USES", "Columns", "as_bool", "keys_pair", "resolve_columns"]

USES = {"item": "concentration, coverage, Lorenz curves, rich-get-richer",
        "user": "homogenisation", "exposed": "model-driven vs organic outcomes",
        "outcome": "outcome rates, positives on favoured items",
        "training_provenance": "training provenance (in the reference data)"}
"""What each role's column is used for."""


@dataclass(frozen=True)
class Columns:
    """The column playing each role (None when not configured or not usable), and what is missing."""

    item: str | None = None
    user: str | None = None
    exposed: str | None = None
    outcome: str | None = None
    training_provenance: str | None = None
    notes: tuple[str, ...] = ()

    def roles(self) -> dict[str, str | None]:
        """``{role: column}`` in table order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "notes"}

    def table(self) -> pd.DataFrame:
        """Which column plays which role, and what each is used for."""
        return pd.DataFrame([{"role": k, "column": v if v else "(not configured or not found)", "used for": USES[k]}
                             for k, v in self.roles().items()])


def resolve_columns(model: ModelConfig, window: pd.DataFrame, reference: pd.DataFrame) -> Columns:
    """The usable column of every role, with a note for each one that is missing and what needs it."""
    fb = model.feedback
    outcome = fb.outcome if fb and fb.outcome else model.target
    outcome = outcome if outcome in window.columns else None
    if fb is None:
        return Columns(outcome=outcome, notes=(
            f"Feedback-loop monitoring needs a 'feedback' block under models.{model.name} in mlmon.yaml naming "
            f"the columns: item (the item shown; needed for concentration, coverage, homogenisation and "
            f"rich-get-richer), user (the user it was shown to; homogenisation), exposed (true when the "
            f"model chose what was shown; model-driven against organic outcomes), outcome (defaults to the "
            f"target) and training_provenance (in the reference data: row produced under the model's "
            f"influence).",))
    base = f"models.{model.name}.feedback"
    notes = []
    item, user, exposed, provenance = fb.item, fb.user, fb.exposed, fb.training_provenance
    if not fb.item:
        notes.append(f"Exposure concentration, coverage, homogenisation and rich-get-richer need the item "
                     f"column: add 'item' to {base} in mlmon.yaml.")
    elif fb.item not in window.columns:
        notes.append(f"The item column {fb.item!r} ({base}.item) is not in the logs of this window: "
                     f"exposure concentration, coverage, homogenisation and rich-get-richer need it.")
        item = None
    elif fb.item not in reference.columns:
        notes.append(f"The item column {fb.item!r} ({base}.item) is not in the reference data: the "
                     f"baseline bands of concentration and coverage need it there too.")
    if item:
        if not fb.user:
            notes.append(f"Homogenisation needs the user column: add 'user' to {base} in mlmon.yaml.")
        elif fb.user not in window.columns or fb.user not in reference.columns:
            where = "logs of this window" if fb.user not in window.columns else "reference data"
            notes.append(f"The user column {fb.user!r} ({base}.user) is not in the {where}: "
                         f"homogenisation needs it.")
            user = None
    if not fb.exposed:
        notes.append(f"Outcome rates of model-driven against organic exposures need the exposure flag: "
                     f"add 'exposed' to {base} in mlmon.yaml.")
    elif fb.exposed not in window.columns:
        notes.append(f"The exposure flag {fb.exposed!r} ({base}.exposed) is not in the logs of this window: "
                     f"model-driven against organic outcome rates need it.")
        exposed = None
    if outcome is None:
        notes.append(f"The outcome column {fb.outcome or model.target!r} ({base}.outcome, or the target) is not "
                     f"in the window: outcome rates need it.")
    if not fb.training_provenance:
        notes.append(f"Training provenance needs a column of the reference data marking rows produced "
                     f"under the model's influence: add 'training_provenance' to {base} in mlmon.yaml.")
    elif fb.training_provenance not in reference.columns:
        notes.append(f"The training-provenance column {fb.training_provenance!r} "
                     f"({base}.training_provenance) is not in the reference data.")
        provenance = None
    return Columns(item=item, user=user, exposed=exposed, outcome=outcome, training_provenance=provenance,
                   notes=tuple(notes))


def as_bool(s: pd.Series) -> pd.Series:
    """Exposure flags as a nullable boolean: bools, 0/1 numbers, true/false strings.

    Examples
    --------
    >>> as_bool(pd.Series(["yes", "0", None, "T"])).tolist()
    [True, False, <NA>, True]
    """
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean")
    if pd.api.types.is_numeric_dtype(s):
        return (s != 0).astype("boolean").mask(s.isna())
    text = s.astype("string").str.strip().str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[text.isin(["true", "1", "yes", "y", "t"])] = True
    out[text.isin(["false", "0", "no", "n", "f"])] = False
    return out


def keys_pair(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Make two id columns comparable (same dtype) before factorizing them together."""
    def plain(s):
        return s.astype(s.cat.categories.dtype) if isinstance(s.dtype, pd.CategoricalDtype) else s
    a, b = plain(a), plain(b)
    if not (pd.api.types.is_integer_dtype(a) and pd.api.types.is_integer_dtype(b)) and a.dtype != b.dtype:
        a, b = a.astype(str), b.astype(str)
    return a, b
