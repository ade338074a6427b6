"""Checks: the records that decide alerts, and the summary a run writes.

A notebook records every check that decides an alert through one
:class:`Recorder`. The recorder writes its checks, the notebook's one-sentence
verdict, its findings and what it could not do to a small JSON file the runner
reads after execution; in JupyterLab (no output file) it only displays them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import html
import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Protocol, runtime_checkable

from .alertable import KINDS
from .errors import ArchiveError, UsageError

logger = logging.getLogger(__name__)

SCHEMA = "mlmon.summary/2"
READABLE_SCHEMAS = ("mlmon.summary/1", "mlmon.summary/2")
"""Summaries this version reads: /2 adds ``causes``, ``incidents`` and ``explained_by`` to /1."""
STATUSES = ("ok", "warn", "alert", "error")
SEVERITY = {"ok": 0, "skipped": 0, "warn": 1, "alert": 2, "error": 3}
FAIL_ON = ("alert", "warn", "never")


def worst(statuses: Iterable[str]) -> str:
    """The most severe of some statuses (``ok`` when there are none)."""
    out = "ok"
    for s in statuses:
        if SEVERITY[s] > SEVERITY[out]:
            out = s
    return out


def _clean(value: Any) -> Any:
    """JSON-safe numbers: NaN and infinities become None, numpy scalars plain."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class Check:
    """One decision: what was checked, how, the figures, and the resulting status."""

    notebook: str
    kind: str
    subject: str
    status: str
    method: str | None = None
    value: float | None = None
    threshold: float | None = None
    p_value: float | None = None
    at: str | None = None
    explained_by: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"The 'kind' parameter of Check must be one of {', '.join(KINDS)}. "
                             f"Got {self.kind!r} instead.")
        if self.status not in STATUSES:
            raise UsageError(f"The 'status' parameter of Check must be one of {', '.join(STATUSES)}. "
                             f"Got {self.status!r} instead.")

    def to_dict(self) -> dict[str, Any]:
        """The check as summary.json holds it (None-valued figures dropped)."""
        out = {k: _clean(v) for k, v in asdict(self).items() if k != "details"}
        out = {k: v for k, v in out.items() if v is not None}
        out.update({k: _clean(v) for k, v in self.details.items() if k not in out})
        return out


def recording(method):
    """Decorate an area result's ``record(recorder, ...)``: the recorder's file is written once,
    after every check of the area, not after each one."""

    @functools.wraps(method)
    def record(self, recorder, *args, **kwargs):
        with recorder.held():
            return method(self, recorder, *args, **kwargs)

    return record


class Recorder:
    """Collects a notebook's checks, verdict and findings.

    Parameters
    ----------
    notebook : str
        The notebook's machine name (``data_drift``).
    output : str or Path, optional
        JSON file the runner reads; when empty, nothing is written.

    Examples
    --------
    >>> rec = Recorder("data_drift")
    >>> _ = rec.check("feature_drift", "price", "alert", method="ks", value=0.3, threshold=0.1)
    >>> rec.status
    'alert'
    """

    def __init__(self, notebook: str, output: str | os.PathLike | None = None) -> None:
        self.notebook = notebook
        self.output = Path(output) if output else None
        self.checks: list[Check] = []
        self._check_dicts: list[dict[str, Any]] = []  # each check as summary.json holds it, made once
        self._held = 0
        self.findings: list[dict[str, str]] = []
        self.missing: list[str] = []
        self.artefacts: dict[str, Any] = {}
        self._verdict: str | None = None
        self._save()

    @property
    def status(self) -> str:
        """Worst status of the checks recorded so far that no cause explains (see ``explained_by``)."""
        return worst(c.status for c in self.checks if not c.explained_by)

    def check(self, kind: str, subject: str, status: str, **figures: Any) -> Check:
        """Record one check; figures other than the standard ones go to ``details``."""
        std = {k: figures.pop(k) for k in ("method", "value", "threshold", "p_value", "at", "explained_by")
               if k in figures}
        c = Check(notebook=self.notebook, kind=kind, subject=str(subject), status=status,
                  details=figures, **std)
        self.checks.append(c)
        self._check_dicts.append(c.to_dict())
        self._save()
        return c

    def finding(self, text: str, status: str = "warn") -> None:
        """A short plain-words finding for the report's banner and the run index."""
        self.findings.append({"status": status, "text": text})
        self._save()

    def cannot(self, what: str) -> None:
        """Record something the notebook could not do and what it needs."""
        self.missing.append(what)
        self._save()

    def verdict(self, sentence: str) -> None:
        """Set the one-sentence verdict opening the report."""
        self._verdict = sentence
        self._save()

    def artefact(self, name: str, value: Any) -> None:
        """Keep a small JSON-able result for later notebooks of the same run."""
        self.artefacts[name] = _clean(value)
        self._save()

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "status": self.status,
            "verdict": self._verdict,
            "findings": self.findings,
            "missing": self.missing,
            "checks": list(self._check_dicts),
            "artefacts": self.artefacts,
        }

    @contextlib.contextmanager
    def held(self) -> Iterator[Recorder]:
        """Write the JSON file once, when the block ends, instead of after every call in it
        (an area records dozens of checks at once; the file is rewritten whole each time)."""
        self._held += 1
        try:
            yield self
        finally:
            self._held -= 1
            self._save()

    def _save(self) -> None:
        if self.output is None or self._held:
            return
        tmp = self.output.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        os.replace(tmp, self.output)

    def to_df(self):
        """The checks as a DataFrame, worst first."""
        import pandas as pd  # pandas only when a frame is asked for (the CLI starts without it)

        df = pd.DataFrame(self._check_dicts)
        if df.empty:
            return df
        df["_sev"] = df["status"].map(SEVERITY)
        return df.sort_values(["_sev"], ascending=False, kind="stable").drop(columns="_sev")

    def _repr_html_(self) -> str:
        counts = {s: sum(c.status == s for c in self.checks) for s in STATUSES}
        parts = [f"<p><b>{html.escape(self.notebook)}</b>: status <b>{self.status}</b> "
                 f"({counts['alert']} alert, {counts['warn']} warn, {counts['ok']} ok)</p>"]
        if self._verdict:
            parts.append(f"<p>{html.escape(self._verdict)}</p>")
        return "".join(parts)


@runtime_checkable
class Result(Protocol):
    """The one interface of every area's result (``mn.<area>.analyse(ctx)``).

    A result is built once and not changed afterwards. A notebook's area cell reads::

        r = mn.drift.analyse(ctx)
        r.record(ctx.recorder)
        mn.say("<b>{}</b>", r.verdict())
    """

    notes: tuple[str, ...]
    """What could not be done, and which configuration or columns it needs."""

    def record(self, recorder: Recorder) -> None:
        """Record the checks, the verdict, the findings and the notes."""

    def verdict(self) -> str:
        """One sentence; its status word agrees with the worst check."""

    def table(self, *args: Any, **kwargs: Any) -> Any:
        """The main table (a DataFrame), worst first."""

    def plot(self, kind: str, **kwargs: Any) -> Any:
        """A matplotlib Figure of one kind."""


def read_notebook_result(path: Path) -> dict[str, Any]:
    """Read what a notebook's Recorder wrote; an empty result when it wrote nothing."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {"checks": [], "findings": [], "missing": [], "verdict": None, "artefacts": {}}


def summary_schema() -> dict[str, Any]:
    """The JSON Schema of summary.json shipped with the package."""
    text = resources.files("mlmon_nb").joinpath("schemas/summary.schema.json").read_text()
    return json.loads(text)


@functools.lru_cache(maxsize=1)
def _compiled_validator():
    # fastjsonschema compiles the schema to Python: ~5x faster than jsonschema on a run's summary,
    # which matters when an archive's catalogue reads hundreds of them
    import fastjsonschema  # lazy: the CLI's start does not need it

    return fastjsonschema.compile(summary_schema())


def summary_problem(summary: Any) -> str | None:
    """Where and how a summary breaks the shipped schema (``checks: must be array``), None when it fits."""
    import fastjsonschema  # lazy: see _compiled_validator

    try:
        _compiled_validator()(summary)
    except fastjsonschema.JsonSchemaValueException as exc:
        where = "/".join(str(p) for p in (exc.path or [])[1:]) or "(top)"
        message = str(exc.message).removeprefix(f"{exc.name} ").strip()
        return f"{where}: {message}"
    return None


def validate_summary(summary: Mapping[str, Any], where: str = "summary.json") -> None:
    """Validate a summary against the shipped schema.

    Raises
    ------
    ArchiveError
        When the summary has another schema version or does not match.
    """
    schema_name = summary.get("schema") if isinstance(summary, Mapping) else None
    if schema_name not in READABLE_SCHEMAS:
        raise ArchiveError(f"{where}: schema {schema_name!r} is not supported; this mlmon_nb reads "
                           f"{' and '.join(READABLE_SCHEMAS)}")
    problem = summary_problem(summary)
    if problem is not None:
        raise ArchiveError(f"{where}: {problem}")


def run_verdict(status: str, notebooks: Mapping[str, str], checks: Iterable[Mapping[str, Any]],
                causes: Iterable[Any] = (), incidents: Iterable[Mapping[str, Any]] = ()) -> str:
    """One sentence saying what a run found: its problems (causes) and what is new about them.

    ``causes`` are :class:`mlmon_nb.diagnosis.Cause` objects; ``incidents`` the run's
    incident entries (``cause``, ``status``, ``notification``). The status word opening
    the sentence is the run's status, so the badge beside it always agrees.
    """
    checks = list(checks)
    failed = [name for name, s in notebooks.items() if s == "error"]
    skipped = [name for name, s in notebooks.items() if s == "skipped"]
    tail = f" Skipped: {', '.join(skipped)} (see why in their reports)." if skipped else ""
    if failed:
        return (f"{len(failed)} notebook(s) failed ({', '.join(failed)}); their reports show the failing "
                f"cell.{tail}")
    causes = list(causes)
    if not causes:
        ran = len(notebooks) - len(skipped)
        return (f"No check fired: all {len(checks)} checks of {ran} notebook(s) are within their "
                f"thresholds.{tail}")
    by_cause = {i["cause"]: i for i in incidents}
    parts = []
    for cause in causes:
        inc = by_cause.get(cause.cause)
        state = ""
        if inc is not None:
            state = {"new": "new", "worsening": "worsening", "ongoing": "ongoing", "acknowledged": "acknowledged",
                     "recovered": "recovered", "accepted": "accepted", "resolved": "resolved"}.get(inc["status"], "")
            state = f", {state} since {str(inc['first_seen'])[:10]}" if state else ""
        # a subject is named once, however many checks (detectors, scopes, days) found it
        names = list(dict.fromkeys(str(s).removesuffix("_daily") for s in cause.subjects))
        subjects = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        parts.append(f"{cause.label.lower()}{' in ' + subjects if subjects else ''} ({cause.status}{state})")
    news = [i for i in incidents if i.get("notification") in ("new", "worsening", "reminder")]
    head = f"{status.upper()}: {len(causes)} problem{'s' if len(causes) != 1 else ''}"
    news_text = f"; {len(news)} with news" if news else "; nothing new"
    return f"{head}{news_text}: " + "; ".join(parts) + "." + tail


