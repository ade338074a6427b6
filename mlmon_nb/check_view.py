"""How a check reads on a page: its figures rounded, one plain sentence, the rest folded away.

The run index, the incident pages and the bundles tabulate the checks of
``summary.json``. A check carries its deciding figures (``value``,
``threshold``, ``p_value``, ``since`` or ``at``) and any number of extra ones,
some of them long (a concept-drift check holds its per-chunk table). On a page:

- the deciding figures are rounded to what they can tell (three significant
  digits, thousands separated, p-values below 0.0001 written as such);
- a short sentence says in plain words what the check found;
- the extra scalar figures sit in a collapsed ``<details>`` list; arrays and
  tables are named (how many values) and left to the notebook's report. No
  raw dict or list text ever reaches a page.

Everything returned is plain text: the templates escape it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .diagnosis import LABELS

STATUS_RANK = {"error": 0, "alert": 1, "warn": 2, "ok": 3}
"""Worst first; anything else (``info``) sorts last."""
FIRED = ("error", "alert", "warn")
DECIDING = ("status", "notebook", "kind", "subject", "method", "value", "threshold", "p_value", "at", "since",
            "explained_by")
"""The fields every check row shows in its own column; the rest are details."""
MAX_LISTED = 6
"""A list or mapping with more entries than this is named, not listed."""
MAX_TEXT = 80
MAX_SHOWN = 25
"""Fired checks a run's page lists in the open; the rest are one click away (the page stays a few screens)."""


# --------------------------------------------------------------------------- figures


def figure(value: Any) -> str:
    """A figure of a check as a page shows it: three significant digits, thousands separated.

    Examples
    --------
    >>> [figure(v) for v in (0.1621722, 19954.0, 0.0, 7.5e-05, 1.0, -0.1042459, 25.0226, 3, True, None)]
    ['0.162', '19,954', '0', '7.5e-05', '1', '-0.104', '25', '3', 'yes', '']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if value == 0:
            return "0"
        size = abs(value)
        if size >= 1000:
            return f"{value:,.0f}"
        if size < 1e-3:
            return f"{value:.2g}"
        return f"{value:.3g}"
    return _short(str(value))


def p_text(value: Any) -> str:
    """A p-value: two significant digits, and '< 0.0001' below that.

    Examples
    --------
    >>> p_text(2.35e-25), p_text(0.0123), p_text(0.7738), p_text(None)
    ('< 0.0001', '0.012', '0.77', '')
    """
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return ""
    if math.isnan(value):
        return "n/a"
    if value < 1e-4:
        return "< 0.0001"
    return f"{value:.2g}"


def when_label(value: Any) -> str:
    """'2026-11-23T06:01:40+00:00' -> '2026-11-23 06:01 UTC'; midnight UTC -> the date.

    Examples
    --------
    >>> when_label("2026-10-28T11:31:51.410587+00:00"), when_label("2026-10-26T00:00:00+00:00")
    ('2026-10-28 11:31 UTC', '2026-10-26')
    """
    text = str(value or "")
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    utc = parsed.utcoffset() in (None, dt.timedelta(0))
    if utc and parsed.time() == dt.time(0):
        return parsed.strftime("%Y-%m-%d")
    return parsed.strftime("%Y-%m-%d %H:%M") + (" UTC" if utc else parsed.strftime(" %z"))


def _short(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_time(value: Any) -> bool:
    if not isinstance(value, str) or len(value) < 10 or value[4:5] != "-":
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _structure(value: Any) -> Any:
    """Lists and mappings, also when a notebook stored them as JSON text."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def detail_text(value: Any, notebook: str = "") -> str:
    """One extra figure of a check as short text; long lists and tables are named, not written out.

    Examples
    --------
    >>> detail_text([{"start": "2026-10-26", "rows": 2691}] * 7, "concept_drift")
    'a table of 7 rows (in the concept_drift report)'
    >>> detail_text('{"price": 0.0711, "device": 0.0683}')
    'price 0.0711, device 0.0683'
    >>> detail_text([0.5102, 0.4834])
    '0.51, 0.483'
    >>> detail_text("2026-10-29T12:33:12+00:00")
    '2026-10-29 12:33 UTC'
    """
    value = _structure(value)
    where = f" (in the {notebook} report)" if notebook else " (in the notebook's report)"
    if isinstance(value, Mapping):
        if len(value) <= MAX_LISTED and all(_scalar(v) for v in value.values()):
            return ", ".join(f"{k} {figure(v)}" for k, v in value.items()) or "none"
        return f"{len(value)} entries{where}"
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, (Mapping, list, tuple)) for v in value):
            return f"a table of {len(value)} rows{where}"
        if len(value) <= MAX_LISTED:
            return ", ".join(figure(v) for v in value) or "none"
        return f"{len(value)} values{where}"
    if _is_time(value):
        return when_label(value)
    return figure(value)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


# --------------------------------------------------------------------------- words

_KIND_LABEL = {
    "feature_drift": "feature drift", "multivariate_drift": "joint drift", "prediction_drift": "score drift",
    "label_drift": "outcome drift", "data_quality": "data quality", "performance": "performance",
    "estimated_performance": "estimated performance", "change_point": "change point",
    "concept_drift": "concept drift", "attribution_drift": "attribution drift", "feedback_loop": "feedback loop",
    "operational": "operations",
}

# (what an ok check found, what a fired one found); {s} is the subject, {m} the method
_SENTENCES = {
    "feature_drift": ("Distributed as at baseline.", "Its distribution moved away from the baseline's."),
    "multivariate_drift": ("Taken together, the features look like the baseline.",
                           "Taken together, the features differ from the baseline."),
    "prediction_drift": ("The model's scores are distributed as at baseline.", "The model's scores moved."),
    "label_drift": ("The outcomes are distributed as at baseline.", "The outcome rate changed."),
    "data_quality": ("As in the reference data.", "Differs from the reference data."),
    "performance": ("Measured on labelled rows: within its baseline range.",
                    "Measured on labelled rows: outside its baseline range."),
    "estimated_performance": ("Estimated without labels: within its baseline range.",
                              "Estimated without labels: outside its baseline range."),
    "change_point": ("Detector {m} saw a change that no other detector confirmed.",
                     "Detector {m} found a worsening that started here."),
    "concept_drift": ("As good as this window's inputs lead to expect.",
                      "Worse than this window's inputs lead to expect: the relationship changed."),
    "attribution_drift": ("The model relies on it as at baseline.", "The model's reliance on it changed."),
    "feedback_loop": ("Within the baseline's range.", "Outside the baseline's range."),
    "operational": ("Within the baseline's range.", "Outside the baseline's range."),
}


def kind_label(kind: Any) -> str:
    """'feature_drift' -> 'feature drift' (unknown kinds with spaces)."""
    return _KIND_LABEL.get(str(kind), str(kind).replace("_", " "))


def sentence(check: Mapping[str, Any]) -> str:
    """What a check found, in plain words (plain text).

    Examples
    --------
    >>> sentence({"kind": "feature_drift", "subject": "price", "status": "alert"})
    "Its distribution moved away from the baseline's."
    >>> sentence({"kind": "performance", "subject": "roc_auc", "status": "warn",
    ...           "explained_by": "covariate_shift"})
    'Measured on labelled rows: outside its baseline range. Part of the covariate shift (see Problems): raises nothing of its own.'
    """
    status = str(check.get("status", ""))
    ok_text, fired_text = _SENTENCES.get(str(check.get("kind")), ("Within its threshold.", "Beyond its threshold."))
    if status == "error":
        text = "Could not be decided: see the notebook's report."
    else:
        text = (fired_text if status in FIRED else ok_text).format(
            s=_short(str(check.get("subject", "")), 40), m=str(check.get("method") or "a detector"))
    cause = check.get("explained_by")
    if cause:
        text += f" Part of the {LABELS.get(str(cause), str(cause)).lower()} (see Problems): raises nothing of its own."
    return text


# --------------------------------------------------------------------------- rows


def check_row(check: Mapping[str, Any], href: str | None = None) -> dict[str, Any]:
    """A check as a page's table shows it (plain text; the template escapes it).

    Keys: ``status``, ``notebook``, ``href`` (its report, or None), ``kind``,
    ``subject``, ``method``, ``value``, ``threshold``, ``p_value``, ``since``,
    ``explained``, ``sentence`` and ``details`` (label, text) pairs of the other figures.
    """
    notebook = str(check.get("notebook", ""))
    since = check.get("since") or check.get("at")
    details = [(str(key).replace("_", " "), detail_text(value, notebook)) for key, value in check.items()
               if key not in DECIDING and value is not None]
    return {
        "status": _status(check.get("status")),
        "notebook": notebook, "href": href, "kind": kind_label(check.get("kind")),
        "subject": str(check.get("subject", "")), "method": str(check.get("method") or "").replace("_", " "),
        "value": figure(check.get("value")), "threshold": figure(check.get("threshold")),
        "p_value": p_text(check.get("p_value")), "since": when_label(since) if since else "",
        "explained": bool(check.get("explained_by")), "sentence": sentence(check), "details": details,
    }


def _status(value: Any) -> str:
    return value if value in STATUS_RANK else "info"


def sorted_checks(checks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The news first: checks no cause explains, worst first, then those a cause explains; by notebook
    within a status (stable otherwise, so a notebook's own order stays)."""
    return sorted(checks, key=lambda c: (bool(c.get("explained_by")),
                                         STATUS_RANK.get(c.get("status"), len(STATUS_RANK)),
                                         str(c.get("notebook", ""))))


def _ref(check: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(check.get(k) or "") for k in ("notebook", "kind", "subject", "method"))


def check_tables(checks: Sequence[Any], reports: Mapping[str, str] | None = None,
                 causes: Sequence[Any] = ()) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of the checks that fired (warn, alert, error) and of the quiet ones, each sorted.

    ``reports`` maps a notebook to the link of its report (for the details left to it);
    ``causes`` are the run's diagnosed causes (summary.json ``causes``): a check one of them
    lists under ``explains`` is marked as part of it, like a check that says ``explained_by``.
    """
    reports = reports or {}
    explained = {_ref(ref): str(cause.get("cause")) for cause in causes if isinstance(cause, Mapping)
                 for ref in cause.get("explains") or () if isinstance(ref, Mapping)}
    marked = [c if c.get("explained_by") or _ref(c) not in explained else {**c, "explained_by": explained[_ref(c)]}
              for c in checks if isinstance(c, Mapping)]
    rows = [check_row(c, reports.get(str(c.get("notebook", "")))) for c in sorted_checks(marked)]
    return [r for r in rows if r["status"] in FIRED], [r for r in rows if r["status"] not in FIRED]


def _strength(check: Mapping[str, Any]) -> float:
    try:
        return -abs(float(check.get("value")) / float(check.get("threshold")))
    except (TypeError, ValueError, ZeroDivisionError):
        return 0.0


def findings_from_checks(checks: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One finding per subject of each kind that fired (a subject five detectors found is one line).

    For summaries written without findings. Worst first, then by how far past its threshold.
    """
    fired = sorted((c for c in checks if c.get("status") in FIRED),
                   key=lambda c: (STATUS_RANK[c["status"]], _strength(c)))
    rows, seen = [], {}
    for check in fired:
        key = (check.get("kind"), str(check.get("subject", "")))
        if key in seen:
            seen[key]["n"] += 1
            continue
        text = f"{kind_label(check.get('kind'))} on {check.get('subject', '')}"
        if check.get("value") is not None:
            text += f": {check.get('method') or 'value'} {figure(check.get('value'))}"
            if check.get("threshold") is not None:
                text += f" (threshold {figure(check.get('threshold'))})"
        row = {"status": _status(check.get("status")), "text": text, "notebook": str(check.get("notebook", "")),
               "n": 1}
        seen[key] = row
        rows.append(row)
    for row in rows:
        n = row.pop("n")
        if n > 1:
            row["text"] += f"; {n} checks agree"
    return rows
