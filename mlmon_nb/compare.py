"""Two runs side by side: what changed from one to the other (``mlmon compare``).

Two kinds of pairs are compared: one model version on two windows ("this week
against last") and two versions of one model on the same window (champion and
challenger); two versions on two windows, and two runs of one window, are
compared too and titled so. Runs of different models are refused.

Checks are matched by ``(notebook, kind, subject, method)`` and sorted into

``appeared``
    not ok in the later run, ok (or not checked) in the earlier one;
``cleared``
    not ok in the earlier run, ok (or no longer checked) in the later one;
``worsened`` / ``improved``
    not ok in both, and the status rose / fell, or the status is the same and
    the figure moved at least :data:`MOVE_TOLERANCE` of its scale further
    beyond / back towards its threshold (see :func:`worse_when_higher`);
``unchanged``
    not ok in both, and neither.

Only notebooks that ran in both runs (not failed, not skipped) are compared;
the checks of a notebook that ran in one run only are listed apart, never
counted as appeared or cleared. Summaries are read with
:func:`mlmon_nb.catalog.load_run` (validated like the archive's catalogue).
Everything shown from a summary is data and is escaped by the template.

A window run writes ``compare-previous.html`` (its comparison with the latest
run of the previous window of the same model version) into its own folder
before the folder is committed (:func:`write_previous`), and its index page
links to it.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from . import __version__
from .alertable import HIGHER_IS_BETTER, STATISTICS
from .catalog import load_run, scan
from .checks import SEVERITY
from .diagnosis import LABELS
from .display import _num
from .errors import ArchiveError, UsageError
from .files import write_atomic

logger = logging.getLogger(__name__)

PREVIOUS_PAGE = "compare-previous.html"
"""The comparison a window run keeps with the previous window's run, in its own folder."""
CHANGES = ("appeared", "worsened", "cleared", "improved", "unchanged")
"""The kinds of change, in the order the page lists them."""
MOVE_TOLERANCE = 0.1
"""A figure at the same status worsened or improved when it moved at least this share of its scale:
the distance between its warn and alert limits, else the size of its threshold."""
MARKER = '<meta name="mlmon-compare" content="1">'
"""Written into every compare page: an existing file without it is never overwritten."""

_DISTANCES = (set(STATISTICS) - {"positive_rate", "class_shares"}) | {"attribution_distance"}
_HIGHER_IS_WORSE_SUBJECTS = ("latency_", "error_rate")  # prefixes: latency_p95, latency_p95_daily, ...


# --------------------------------------------------------------------------- matching checks

def check_key(check: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """What identifies a check across runs: ``(notebook, kind, subject, method)``."""
    return (str(check.get("notebook", "")), str(check.get("kind", "")), str(check.get("subject", "")),
            str(check.get("method") or ""))


def worse_when_higher(check: Mapping[str, Any], other: Mapping[str, Any] | None = None) -> bool | None:
    """Whether a check's figure is worse when higher (True), lower (False), or unknown (None).

    Read from, in order: the check's own ``worse_when``; the metric's direction
    (:data:`mlmon_nb.alertable.HIGHER_IS_BETTER`) for performance checks and for
    concept-drift gaps (realized minus expected); distances, latencies and error
    rates (higher is worse); else the side of its threshold an ``alert`` of either
    run lies on.
    """
    said = check.get("worse_when")
    if said in ("higher", "lower"):
        return said == "higher"
    kind, subject, method = check.get("kind"), str(check.get("subject", "")), str(check.get("method") or "")
    if kind in ("performance", "estimated_performance", "concept_drift") and subject in HIGHER_IS_BETTER:
        return not HIGHER_IS_BETTER[subject]
    if method in _DISTANCES or (kind == "operational" and subject.startswith(_HIGHER_IS_WORSE_SUBJECTS)):
        return True
    for c in (check, other or {}):
        v, t = _number(c.get("value")), _number(c.get("threshold"))
        if c.get("status") == "alert" and v is not None and t is not None and v != t:
            return v > t
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _scale(check: Mapping[str, Any]) -> float:
    """The size a move of the figure is measured in (see :data:`MOVE_TOLERANCE`)."""
    t, w, v = (_number(check.get(k)) for k in ("threshold", "warn_threshold", "value"))
    for candidate in ((abs(t - w) if t is not None and w is not None else None), t, v):
        if candidate is not None and abs(candidate) > 1e-12:
            return abs(candidate)
    return 1.0


def _margin(check: Mapping[str, Any], up: bool | None) -> float | None:
    """How far beyond its threshold (positive) or within it (negative) a figure is, in its scale."""
    v, t = _number(check.get("value")), _number(check.get("threshold"))
    if up is None or v is None or t is None:
        return None
    return (v - t) * (1 if up else -1) / _scale(check)


@dataclass(frozen=True)
class Change:
    """One check that is not ok in at least one of the two runs.

    ``before`` / ``after`` are the check as each summary holds it (None: not
    checked there); ``moved`` is how far the figure moved in units of its scale
    (0 when it cannot be measured), ``direction`` ``worse``, ``better`` or None.
    """

    change: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    moved: float = 0.0
    direction: str | None = None

    @property
    def check(self) -> Mapping[str, Any]:
        return self.after if self.after is not None else self.before  # type: ignore[return-value]

    @property
    def key(self) -> tuple[str, str, str, str]:
        return check_key(self.check)

    @property
    def severity(self) -> tuple[int, int, float]:
        """Sort key, worst first: the worse status of the two, the later run's status, the move."""
        a = SEVERITY[self.before["status"]] if self.before is not None else 0
        b = SEVERITY[self.after["status"]] if self.after is not None else 0
        return (-max(a, b), -b, -self.moved)


def _change_of(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> Change | None:
    a = SEVERITY[before["status"]] if before is not None else 0
    b = SEVERITY[after["status"]] if after is not None else 0
    if a == 0 and b == 0:
        return None
    moved, direction = 0.0, None
    if before is not None and after is not None:
        up = worse_when_higher(after, before)
        ma, mb = _margin(before, up), _margin(after, up)
        if ma is not None and mb is not None:
            moved = abs(mb - ma)
            direction = "worse" if mb > ma else "better" if mb < ma else None
        else:
            va, vb = _number(before.get("value")), _number(after.get("value"))
            if va is not None and vb is not None:
                moved = abs(vb - va) / _scale(after)
    if a == 0:
        kind = "appeared"
    elif b == 0:
        kind = "cleared"
    elif b != a:
        kind = "worsened" if b > a else "improved"
    elif direction is not None and moved >= MOVE_TOLERANCE:
        kind = "worsened" if direction == "worse" else "improved"
    else:
        kind = "unchanged"
    return Change(kind, before, after, moved, direction)


def _usable(summary: Mapping[str, Any]) -> set[str]:
    """Notebooks whose checks can be compared: they ran to the end and checked something."""
    notebooks = summary["notebooks"]
    listed = {n for n, nb in notebooks.items() if nb["status"] not in ("error", "skipped")}
    return listed | {c["notebook"] for c in summary["checks"] if c["notebook"] not in notebooks}


# --------------------------------------------------------------------------- the comparison

def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(dt.timezone.utc)


def window_label(window: Mapping[str, Any]) -> str:
    """``2026-11-09/2026-11-16``; UTC datetimes when a bound is not midnight UTC."""
    try:
        start, end = _parse(window["start"]), _parse(window["end"])
    except (KeyError, TypeError, ValueError):
        return f"{window.get('start')}/{window.get('end')}"
    if all(t.time() == dt.time(0) for t in (start, end)):
        return f"{start:%Y-%m-%d}/{end:%Y-%m-%d}"
    return f"{start:%Y-%m-%dT%H:%MZ}/{end:%Y-%m-%dT%H:%MZ}"


def _same_window(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    try:
        return _parse(a["start"]) == _parse(b["start"]) and _parse(a["end"]) == _parse(b["end"])
    except (KeyError, TypeError, ValueError):
        return a == b


@dataclass(frozen=True)
class Comparison:
    """What changed from the ``before`` run to the ``after`` run (two validated summaries).

    ``pair`` is ``windows`` (one version, two windows), ``versions`` (two
    versions, one window), ``mixed`` (two versions, two windows) or ``reruns``
    (one version, one window, two runs). ``changes`` holds every check that is
    not ok in either run, worst first; ``apart`` the checks of notebooks that
    ran in one run only (``not_compared`` names those notebooks and why).
    """

    before: Mapping[str, Any]
    after: Mapping[str, Any]
    pair: str
    changes: tuple[Change, ...]
    apart: tuple[Change, ...]
    not_compared: tuple[tuple[str, str], ...]

    def of(self, change: str) -> list[Change]:
        """The changes of one kind (``appeared``, ...), worst first."""
        return [c for c in self.changes if c.change == change]

    def label(self, which: str) -> str:
        """How the page names one run of the pair: by window, by version, or by run id."""
        s = self.before if which == "before" else self.after
        return {"windows": window_label(s["window"]), "versions": f"version {s['version']}",
                "mixed": f"v{s['version']} · {window_label(s['window'])}",
                "reruns": f"run {s['run_id']}"}[self.pair]

    def title(self) -> str:
        a, b = self.before, self.after
        wa, wb = window_label(a["window"]), window_label(b["window"])
        return {
            "windows": f"{b['model']} v{b['version']}: {wb} against {wa}",
            "versions": f"{b['model']}: version {b['version']} against version {a['version']} on {wb}",
            "mixed": f"{b['model']}: version {b['version']} on {wb} against version {a['version']} on {wa}",
            "reruns": f"{b['model']} v{b['version']} on {wb}: run {b['run_id']} against run {a['run_id']}",
        }[self.pair]

    def since(self) -> str:
        a, b = self.before, self.after
        return {"windows": f"since {window_label(a['window'])}",
                "versions": f"in version {b['version']} against version {a['version']}",
                "mixed": f"against version {a['version']} on {window_label(a['window'])}",
                "reruns": f"since run {a['run_id']}"}[self.pair]

    def sentence(self) -> str:
        """What changed, in one sentence without the status word (``2 checks appeared, 1 cleared since ...``)."""
        counts = [(len(self.of(c)), c) for c in ("appeared", "cleared", "worsened", "improved")]
        said = [(n, w) for n, w in counts if n]
        unchanged = len(self.of("unchanged"))
        if said:
            first = f"{said[0][0]} check{'s' if said[0][0] != 1 else ''} {said[0][1]}"
            text = ", ".join([first, *(f"{n} {w}" for n, w in said[1:])]) + f" {self.since()}"
            if unchanged:
                text += f"; {unchanged} more not ok in both"
        elif unchanged:
            text = (f"nothing changed {self.since()}: the same {unchanged} check{'s' if unchanged != 1 else ''} "
                    f"{'are' if unchanged != 1 else 'is'} not ok in both")
        else:
            text = f"nothing changed {self.since()}: no check is at warn or alert in either run"
        if self.not_compared:
            text += f"; not compared: {', '.join(f'{n} ({why})' for n, why in self.not_compared)}"
        return text + "."

    def verdict(self) -> str:
        """The sentence, opened by the later run's status (the page's badge shows the same word)."""
        return f"{self.after['status'].upper()}: {self.sentence()}"


def compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> Comparison:
    """Compare two validated summaries of one model (``before`` is the reference run).

    Raises
    ------
    UsageError
        When the runs belong to different models.
    """
    if before["model"] != after["model"]:
        raise UsageError(f"the runs are of different models ({before['model']!r} and {after['model']!r}); "
                         f"compare two runs of one model")
    same_version = before["version"] == after["version"]
    same_window = _same_window(before["window"], after["window"])
    pair = ("reruns" if same_window else "windows") if same_version else ("versions" if same_window else "mixed")
    ua, ub = _usable(before), _usable(after)
    both = ua & ub
    changes, apart = [], []
    groups: dict[tuple[str, str, str, str], tuple[list, list]] = {}
    for side, summary in ((0, before), (1, after)):
        for check in summary["checks"]:
            groups.setdefault(check_key(check), ([], []))[side].append(check)
    for key, (olds, news) in groups.items():
        for i in range(max(len(olds), len(news))):  # repeated keys (e.g. change points) pair in order
            old = olds[i] if i < len(olds) else None
            new = news[i] if i < len(news) else None
            found = _change_of(old, new)
            if found is None:
                continue
            (changes if key[0] in both else apart).append(found)
    changes.sort(key=lambda c: (c.severity, c.key))
    apart.sort(key=lambda c: (c.severity, c.key))
    names = sorted((ua | ub | set(before["notebooks"]) | set(after["notebooks"])) - both)
    return Comparison(before, after, pair, tuple(changes), tuple(apart),
                      tuple((name, _why_apart(name, before, after)) for name in names))


def _why_apart(name: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """Why a notebook's checks are not compared: ``failed in the earlier run, ran in the later one``."""
    def state(summary: Mapping[str, Any]) -> str:
        nb = summary["notebooks"].get(name)
        if nb is None:
            return "not run" if not any(c["notebook"] == name for c in summary["checks"]) else "ran"
        return {"error": "failed", "skipped": "skipped"}.get(nb["status"], "ran")

    a, b = state(before), state(after)
    return f"{a} in the earlier run, {b} in the later one"


# --------------------------------------------------------------------------- reading and writing

def load_pair(run_a: str | os.PathLike, run_b: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """The validated summaries of two run folders of one model.

    Raises
    ------
    ArchiveError
        When a folder is missing, is not a run folder, or its summary is damaged.
    UsageError
        When both are the same folder, or the runs are of different models.
    """
    a, b = Path(run_a), Path(run_b)
    if a.exists() and b.exists() and a.resolve() == b.resolve():
        raise UsageError(f"{b}: the same run folder as RUN_A; give two different runs")
    before, after = load_run(a), load_run(b)
    if before["model"] != after["model"]:
        raise UsageError(f"{b}: a run of model {after['model']!r}, but {a} is a run of model {before['model']!r}; "
                         f"compare two runs of one model")
    return before, after


def default_name(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """``compare_<model>_v<A>_<A start>_vs_v<B>_<B start>.html`` (run ids added for two runs of one window)."""
    def part(s: Mapping[str, Any]) -> str:
        start = _parse(s["window"]["start"])
        return f"v{s['version']}_{start:%Y-%m-%d}" if start.time() == dt.time(0) else \
            f"v{s['version']}_{start:%Y%m%dT%H%M%SZ}"

    a, b = part(before), part(after)
    if a == b:
        a, b = f"{a}_{before['run_id']}", f"{b}_{after['run_id']}"
    return f"compare_{after['model']}_{a}_vs_{b}.html"


def _href(target: Path, page_dir: Path) -> str:
    """A relative, percent-encoded link from a page's folder to a file."""
    rel = os.path.relpath(Path(target).resolve(), Path(page_dir).resolve())
    return quote(Path(rel).as_posix(), safe="/")


def write_compare(run_a: str | os.PathLike, run_b: str | os.PathLike,
                  out: str | os.PathLike | None = None) -> Path:
    """Write the comparison page of two run folders and return its path.

    ``out`` defaults to :func:`default_name` in the current folder (run folders are
    never changed). An existing file is replaced only when it is a compare page.

    Raises
    ------
    ArchiveError, UsageError
        Bad input (see :func:`load_pair`), or ``out`` is a folder, a file that is not
        a compare page, or cannot be written. Nothing is written then.
    """
    before, after = load_pair(run_a, run_b)
    path = Path(out) if out is not None else Path.cwd() / default_name(before, after)
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give -o a file name, e.g. -o {default_name(before, after)}")
    if path.exists() and not _is_compare_page(path):
        raise UsageError(f"{path}: exists and is not a page written by mlmon compare; remove it or choose "
                         f"another -o")
    html = render(compare(before, after), _href(Path(run_a) / "index.html", path.parent),
                  _href(Path(run_b) / "index.html", path.parent))
    try:
        write_atomic(path, html)
    except OSError as exc:
        raise UsageError(f"{path}: cannot be written ({exc.strerror or exc}); choose another -o") from exc
    return path


def _is_compare_page(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return MARKER in fh.read(2000)
    except OSError:
        return False


def previous_run(runs: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The catalogue entry of the latest run of the previous window of the same model version."""
    start = _parse(summary["window"]["start"])
    earlier = [r for r in runs if r["model"] == summary["model"] and r["version"] == summary["version"]
               and _parse(r["window"]["start"]) < start]
    if not earlier:
        return None
    return max(earlier, key=lambda r: (_parse(r["window"]["start"]), _parse(r["generated_at"]), r["run_id"]))


def write_previous(archive: Path, staging: Path, summary: Mapping[str, Any], run_dir: Path) -> dict[str, Any] | None:
    """Write ``compare-previous.html`` into a run's staging folder; what its index page links.

    ``run_dir`` is where the staging folder will be committed (links are relative
    to it). Returns None when the model version has no earlier window, or when the
    page could not be made: that is logged, never fatal (the run is archived anyway).
    """
    try:
        prev = previous_run(scan(archive).runs, summary)
        if prev is None:
            return None
        before = load_run(Path(archive) / prev["folder"])
        result = compare(before, summary)
        index = _href(Path(archive) / prev["folder"] / "index.html", run_dir)
        write_atomic(Path(staging) / PREVIOUS_PAGE, render(result, index, "index.html"))
        return {"href": PREVIOUS_PAGE, "run": index, "window": window_label(before["window"]),
                "run_id": before["run_id"], "status": before["status"], "sentence": result.sentence()}
    except Exception as exc:  # a comparison is a convenience: the run is archived without it
        logger.warning("%s not written for the run %s: %s", PREVIOUS_PAGE, summary.get("run_id"), exc,
                       exc_info=logger.isEnabledFor(logging.DEBUG))
        return None


# --------------------------------------------------------------------------- the page

def _fmt(value: Any) -> str:
    v = _number(value)
    if v is None:
        return "" if value is None else str(value)
    return _num(v, 3)


def _p(value: Any) -> str:
    """A p-value to two figures; below 1e-10 only its order matters (``<1e-10``)."""
    v = _number(value)
    if v is None:
        return ""
    return "<1e-10" if v < 1e-10 else f"{v:.1e}" if v < 1e-3 else _num(v, 2)


def _moment(value: Any) -> str | None:
    """``2026-11-02T00:04:18.85+00:00`` -> ``2026-11-02 00:04 UTC`` (a change point's time, to the minute)."""
    if not value:
        return None
    try:
        return f"{_parse(str(value)):%Y-%m-%d %H:%M} UTC"
    except ValueError:
        return str(value)


def _side(check: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if check is None:
        return None
    return {"status": check["status"], "value": _fmt(check.get("value")), "threshold": _fmt(check.get("threshold")),
            "p": _p(check.get("p_value")), "explained": LABELS.get(str(check.get("explained_by")),
                                                                      check.get("explained_by"))}


def _row(change: Change) -> dict[str, Any]:
    c = change.check
    va = _number(change.before.get("value")) if change.before is not None else None
    vb = _number(change.after.get("value")) if change.after is not None else None
    delta = ""
    if va is not None and vb is not None:
        delta = "0" if vb == va else ("+" if vb > va else "-") + _num(abs(vb - va), 3)
    note = "not checked in the earlier run" if change.before is None else \
        "no longer checked" if change.after is None else ""
    return {"change": change.change, "notebook": c["notebook"], "kind": c["kind"].replace("_", " "),
            "subject": c["subject"], "method": c.get("method") or "", "at": _moment(c.get("at")),
            "key": "|".join(change.key), "before": _side(change.before), "after": _side(change.after),
            "delta": delta, "direction": change.direction if change.moved >= MOVE_TOLERANCE else None,
            "note": note}


def _causes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: dict[str, list] = {}
    for side, summary in ((0, before), (1, after)):
        for cause in summary.get("causes") or ():
            found.setdefault(cause["cause"], [None, None])[side] = {
                "status": cause["status"], "summary": cause.get("summary") or LABELS.get(cause["cause"], "")}
    rows = [{"cause": k, "label": LABELS.get(k, k), "before": a, "after": b} for k, (a, b) in found.items()]
    return sorted(rows, key=lambda r: tuple(-SEVERITY.get((r[s] or {}).get("status", "ok"), 0)
                                            for s in ("after", "before")))


def _incidents(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: dict[str, list] = {}
    for side, summary in ((0, before), (1, after)):
        for inc in summary.get("incidents") or ():
            found.setdefault(inc["id"], [None, None, inc])[side] = {
                "status": inc["status"], "notification": inc.get("notification"), "severity": inc.get("severity")}
            found[inc["id"]][2] = inc
    rows = [{"id": k, "label": LABELS.get(inc["cause"], inc["cause"]), "subjects": ", ".join(inc["subjects"]),
             "before": a, "after": b} for k, (a, b, inc) in found.items()]
    return sorted(rows, key=lambda r: (-SEVERITY.get((r["after"] or {}).get("severity") or "ok", 0), r["id"]))


def _notebooks(before: Mapping[str, Any], after: Mapping[str, Any], href_a: str, href_b: str) -> list[dict]:
    """Each notebook of either run with its status, verdict and report link in both."""
    def side(summary: Mapping[str, Any], name: str, index_href: str) -> dict[str, Any] | None:
        nb = summary["notebooks"].get(name)
        if nb is None:
            return None
        report = str(nb["report"])
        folder = index_href.rpartition("/")[0]
        inside = not report.startswith(("/", "\\")) and ":" not in report  # a summary's link is data
        return {"status": nb["status"], "verdict": nb.get("verdict") or nb.get("reason") or "",
                "href": (f"{folder}/" if folder else "") + quote(report, safe="/") if inside else None}

    return [{"name": name, "before": side(before, name, href_a), "after": side(after, name, href_b)}
            for name in dict.fromkeys([*before["notebooks"], *after["notebooks"]])]


def _run_fields(s: Mapping[str, Any], href: str) -> dict[str, Any]:
    data = s["data"]
    return {"model": s["model"], "version": s["version"], "window": s["window"], "run_id": s["run_id"],
            "status": s["status"], "generated_at": s["generated_at"], "baseline_id": s.get("baseline_id"),
            "rows": f"{data['current_rows']:,}", "labelled": f"{data['labelled_rows']:,}",
            "fingerprint": data["fingerprint"], "href": href}


def _package_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, str]]:
    pa, pb = before.get("packages") or {}, after.get("packages") or {}
    return [{"name": n, "before": pa.get(n, "—"), "after": pb.get(n, "—")}
            for n in sorted(set(pa) | set(pb)) if pa.get(n) != pb.get(n)]


def render(result: Comparison, href_before: str, href_after: str) -> str:
    """The comparison page (one self-contained HTML file); links to the runs' index pages as given."""
    import markupsafe  # lazy: jinja2 only when a page is written (errors answer without it)

    from .report import _environment, template_dir  # lazy: jinja2 and nbformat only when a page is written

    folder = template_dir() / "mlmon"
    css = "".join((folder / "static" / name).read_text(encoding="utf-8") for name in ("report.css", "compare.css"))
    sections = [{"change": name, "rows": [_row(c) for c in result.of(name)]} for name in CHANGES]
    html = _environment(str(folder)).get_template("compare.html.j2").render(
        css=markupsafe.Markup(css), mlmon_nb_version=__version__,
        title=result.title(), verdict=result.verdict(), status=result.after["status"], pair=result.pair,
        model=result.after["model"], label_before=result.label("before"), label_after=result.label("after"),
        before=_run_fields(result.before, href_before), after=_run_fields(result.after, href_after),
        sections=[s for s in sections if s["rows"]], counts={s["change"]: len(s["rows"]) for s in sections},
        apart=[_row(c) for c in result.apart], not_compared=result.not_compared,
        causes=_causes(result.before, result.after), incidents=_incidents(result.before, result.after),
        notebooks=_notebooks(result.before, result.after, href_before, href_after),
        packages=_package_changes(result.before, result.after),
        made_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        tolerance=f"{MOVE_TOLERANCE:.0%}")
    return html.replace("<head>", f"<head>\n{MARKER}", 1)


__all__ = ["CHANGES", "Change", "Comparison", "MOVE_TOLERANCE", "PREVIOUS_PAGE", "check_key", "compare",
           "default_name", "load_pair", "previous_run", "render", "window_label", "worse_when_higher",
           "write_compare", "write_previous"]
