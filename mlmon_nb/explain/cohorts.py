"""Which cohort to investigate: the notebook's ``cohort`` parameter, or the worst segment
the concept-drift notebook recorded in the same run."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import MlmonError

logger = logging.getLogger(__name__)


class CohortError(MlmonError, ValueError):
    """The cohort parameter cannot be turned into a selection of rows."""


@dataclass(frozen=True)
class CohortSpec:
    """A cohort selection: a pandas query, the top/bottom N scores, or a segment level."""

    kind: str                 # "query", "top", "bottom" or "segment"
    text: str                 # as given, for display
    source: str = "parameter"  # or "concept_drift"
    query: str | None = None
    n: int | None = None
    column: str | None = None
    level: Any = None

    @property
    def label(self) -> str:
        """How the report names the cohort."""
        if self.kind in ("top", "bottom"):
            return f"{self.kind} {self.n:,} scores"
        if self.kind == "segment":
            return f"{self.column} == {self.level!r}"
        return str(self.query)


_TOP = re.compile(r"^\s*(top|bottom)\s*:\s*(\S*)\s*$", re.IGNORECASE)


def parse_cohort(spec: str | None, concept_artefacts: Mapping[str, Any] | None = None) -> CohortSpec | None:
    """Turn the notebook's ``cohort`` parameter into a :class:`CohortSpec`.

    Parameters
    ----------
    spec : str
        A pandas query string (``device == "mobile" and price > 40``), ``top:N`` or
        ``bottom:N`` (the N highest / lowest scores), ``worst_segment`` (the worst segment
        the concept-drift notebook recorded in this run), or empty: the worst segment
        when one was recorded, else no cohort.
    concept_artefacts : mapping, optional
        ``ctx.artefact("concept_drift")``; its ``worst_segment`` entry is either a query
        string or a mapping with ``query``, or ``column`` (also ``segment``/``feature``)
        and ``level`` (also ``value``).

    Returns
    -------
    CohortSpec or None
        None when no cohort is asked for and none was recorded.

    Raises
    ------
    CohortError
        For a malformed ``top:``/``bottom:`` count, or ``worst_segment`` when none was recorded.

    Examples
    --------
    >>> parse_cohort("top:50").n
    50
    >>> parse_cohort('device == "mobile"').kind
    'query'
    >>> parse_cohort("", {"worst_segment": {"column": "device", "level": "mobile"}}).label
    "device == 'mobile'"
    """
    text = "" if spec is None else str(spec).strip()
    if not text or text.lower() == "worst_segment":
        found = _worst_segment(concept_artefacts or {})
        if found is None and text:
            raise CohortError("cohort 'worst_segment': the concept_drift notebook recorded no worst segment in this "
                              "run; run it in the same run (-n concept_drift -n explainability) or pass a query")
        return found
    m = _TOP.match(text)
    if m:
        kind, count = m.group(1).lower(), m.group(2)
        if not count.isdigit() or int(count) < 1:
            raise CohortError(f"The 'cohort' parameter {kind}:N needs a whole number N >= 1. Got {text!r} instead.")
        return CohortSpec(kind=kind, text=text, n=int(count))
    return CohortSpec(kind="query", text=text, query=text)


def _worst_segment(artefacts: Mapping[str, Any]) -> CohortSpec | None:
    ws = artefacts.get("worst_segment")
    if not ws:
        return None
    if isinstance(ws, str):
        return CohortSpec(kind="query", text=ws, query=ws, source="concept_drift")
    if isinstance(ws, Mapping):
        if ws.get("query"):
            return CohortSpec(kind="query", text=str(ws["query"]), query=str(ws["query"]), source="concept_drift")
        col = ws.get("column") or ws.get("segment") or ws.get("feature")
        level = ws.get("level", ws.get("value"))
        if col is not None and level is not None:
            return CohortSpec(kind="segment", text=f"{col} == {level}", column=str(col), level=level,
                              source="concept_drift")
    logger.warning("concept_drift artefact 'worst_segment' has an unknown shape: %r", ws)
    return None
