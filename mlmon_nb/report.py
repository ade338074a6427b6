"""HTML reports: the executed notebook, the run's index and the archive's index.

Every page is one self-contained file (INTERFACE §3): the only stylesheet is
``templates/mlmon/static/report.css``, inlined; images are data URIs; nothing is
loaded from the network. Everything that comes from the run (names, verdicts,
findings, column names) is escaped: it is data and may contain markup.

The notebook report is an nbconvert template (``templates/mlmon``) on top of
nbconvert's ``lab`` template, without lab's theme CSS, MathJax, require.js or
widget scripts. The index pages are standalone Jinja2 templates in the same
folder, rendered with autoescaping.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import nbformat

from . import __version__
from .check_view import MAX_SHOWN, check_row, check_tables, findings_from_checks, sorted_checks
from .check_view import when_label as _when_label
from .checks import SEVERITY, run_verdict
from .diagnosis import CAUSES, LABELS, NOTEBOOKS, diagnose, status_of
from .errors import UsageError
from .incidents import OPEN

logger = logging.getLogger(__name__)

TEMPLATE_NAME = "mlmon"
# Worst first. "info" carries no decision and sorts last.
STATUS_ORDER = ("error", "alert", "warn", "ok", "info")
_SEVERITY = {status: rank for rank, status in enumerate(STATUS_ORDER)}
MAX_INDEX_FINDINGS = 10
TREND_LENGTH = 16
MAX_CLOSED = 20
_NUMBER = re.compile(r"^[-+−]?(\d[\d,_ ]*)?(\.\d+)?([eE][-+]?\d+)?%?$|^([-+]?inf|nan|NaN|<NA>|NaT|None)$")


def template_dir() -> Path:
    """Return the folder that holds the ``mlmon/`` nbconvert template.

    An installed package ships the templates as ``mlmon_nb/templates``; a source
    checkout has them at the top level of the repository.

    Returns
    -------
    Path
        A directory containing ``mlmon/conf.json``.
    """
    packaged = importlib.resources.files("mlmon_nb") / "templates"
    if (packaged / TEMPLATE_NAME / "conf.json").is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "templates"


def _status(value: Any) -> str:
    return value if value in _SEVERITY else "info"


def _nb_status(value: Any) -> str:
    """A notebook's badge: ``skipped`` (it could do nothing, and says why) is never shown as ok."""
    return "skipped" if value == "skipped" else _status(value)


def _severity(value: Any) -> int:
    return _SEVERITY[_status(value)]


def _json_safe(value: Any) -> Any:
    """A JSON-serialisable copy: what nb.metadata can hold and an .ipynb can store."""
    return json.loads(json.dumps(value, default=str))


# ---------------------------------------------------------------------------
# The notebook report
# ---------------------------------------------------------------------------


def export_notebook_html(nb: nbformat.NotebookNode, meta: Mapping) -> str:
    """Render an executed notebook as a self-contained HTML report.

    ``meta`` is stored in ``nb.metadata["mlmon"]`` (so the archived ``.ipynb``
    carries it and can be re-rendered), then the notebook is exported with the
    ``mlmon`` nbconvert template: a header with the run's provenance, a status
    banner, a table of contents, the cells' outputs (code hidden except in cells
    that failed) and a footer.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook (as papermill wrote it). Its metadata is updated.
    meta : Mapping
        Keys read: ``title``, ``notebook``, ``model``, ``version``,
        ``window`` (``start``, ``end``: ISO strings), ``run_id``,
        ``generated_at``, ``fingerprint``, ``baseline_id`` (may be None),
        ``packages`` (name -> version), ``status`` (ok, warn, alert, error or
        info), ``verdict`` (one sentence), ``findings`` (short strings, or
        mappings with ``text`` and ``status``; the first five are shown in the
        banner), ``missing`` (what the notebook
        could not do and the configuration it needs), ``parameters`` (name ->
        value) and, optionally, ``mlmon_nb_version`` (defaults to this
        package's version). Missing keys render as a dash.

    Returns
    -------
    str
        The HTML page.
    """
    mlmon_meta = _json_safe(dict(meta))
    mlmon_meta.setdefault("mlmon_nb_version", __version__)
    nb.metadata["mlmon"] = nbformat.from_dict(mlmon_meta)

    name = str(mlmon_meta.get("notebook") or mlmon_meta.get("title") or "report")
    with _EXPORT_LOCK:  # one exporter per process (its compiled templates are reused); not thread-safe
        html, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": name}})
    return _finish_report(html)


_EXPORT_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _exporter():
    from nbconvert import HTMLExporter  # lazy: nbconvert only when a report is exported

    return HTMLExporter(template_name=TEMPLATE_NAME, extra_template_basedirs=[str(template_dir())])


def warm_up() -> None:
    """Import nbconvert and compile the report templates ahead of the first export.

    A headless run calls this in a background thread while its notebooks
    execute (the command is idle then), so exporting the first report does
    not pay for it. Safe to call any number of times, from any thread.
    """
    try:
        # A whole (tiny) export: nbconvert compiles the templates its main template includes and
        # extends on first render, not when it is loaded (0.4 s of a 1M-row run's 10 s when left
        # to the real export, which the command waits for).
        export_notebook_html(_warm_up_notebook(), {"title": "warm-up", "notebook": "warm-up", "status": "ok",
                                                   "findings": ["warm-up"], "missing": ["warm-up"]})
        env = _environment(str(template_dir() / TEMPLATE_NAME))
        for name in ("run_index.html.j2", "archive_index.html.j2"):  # the run's index pages, drawn after it
            env.get_template(name)
    except Exception as exc:  # the export itself will report any real problem
        logger.debug("report warm-up failed: %s", exc)
    try:  # the archive index redraws the run's trend chart at the end: matplotlib ready by then
        import matplotlib  # lazy: only in a run's background thread

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot  # noqa: F401  (lazy: as above)
    except ImportError as exc:
        logger.debug("matplotlib warm-up failed: %s", exc)


def _warm_up_notebook() -> nbformat.NotebookNode:
    """A notebook with the cell and output kinds a report has (markdown, stream, HTML, PNG, error)."""
    v4 = nbformat.v4
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
    code = v4.new_code_cell("x", outputs=[
        v4.new_output("stream", name="stdout", text="warm-up"),
        v4.new_output("display_data", data={"text/html": "<table class='dataframe'><tr><td>1</td></tr></table>",
                                            "text/plain": "1"}),
        v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
        v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=1)])
    failed = v4.new_code_cell("y", outputs=[v4.new_output("error", ename="E", evalue="warm-up", traceback=["E"])])
    return v4.new_notebook(cells=[v4.new_markdown_cell("# Warm-up\n\n## Section"), code, failed])


def _finish_report(html: str) -> str:
    """Post-process the exported page: unique heading ids, the TOC, number cells.

    The table of contents is built here, from the headings nbconvert actually
    rendered (it gives them ids through its markdown renderer), so every link
    has a target; nbconvert does not make ids unique, so repeated headings
    ("### Summary" in every section) get a numeric suffix.
    """
    from bs4 import BeautifulSoup  # lazy: bs4 only when a report is exported

    soup = BeautifulSoup(html, "html.parser")
    _strip_network_loads(soup)
    toc = soup.find("nav", id="mlmon-toc")
    cells = soup.find("main", class_="mlmon-cells")
    if toc is not None and cells is not None:
        entries = _unique_heading_ids(soup, cells)
        if entries:
            toc.append(_toc_markup(soup, entries))
        else:
            toc.decompose()
    for table in soup.select("table.dataframe"):
        _align_columns(table)
    return str(soup)


def _align_columns(table: Any) -> None:
    """Right-align numeric columns of a pandas table, left-align text ones.

    Pandas does not say which columns are numbers, so the rendered cells are
    read. A column is text when any of its cells is; tables with spanning
    cells (MultiIndex) are aligned cell by cell.
    """

    def add_class(cell: Any, name: str) -> None:
        cell["class"] = [*cell.get("class", []), name]

    body_rows = table.select("tbody > tr")
    spans = table.select("[rowspan], [colspan]")
    if spans or not body_rows:
        for td in table.select("tbody td"):
            if not _NUMBER.match(td.get_text(strip=True)):
                add_class(td, "mlmon-text")
        return
    rows = [row.find_all(["th", "td"], recursive=False) for row in body_rows]
    width = max(len(cells) for cells in rows)
    text_columns = set()
    for cells in rows:
        for index, cell in enumerate(cells):
            if cell.name == "td" and not _NUMBER.match(cell.get_text(strip=True)):
                text_columns.add(index)
    for cells in rows:
        for index, cell in enumerate(cells):
            if cell.name == "td":
                add_class(cell, "mlmon-text" if index in text_columns else "num")
    head = table.select("thead > tr")
    if head:
        for index, cell in enumerate(head[-1].find_all(["th", "td"], recursive=False)):
            if index < width and index not in text_columns and any(
                len(cells) > index and cells[index].name == "td" for cells in rows
            ):
                add_class(cell, "num")


def _unique_heading_ids(soup: Any, cells: Any) -> list[tuple[int, str, str]]:
    """Make heading ids unique; return ``(level, id, text)`` of the h2/h3 ones."""
    headings = [h for h in cells.select(", ".join(f".jp-RenderedMarkdown h{n}" for n in range(1, 7)))
                if h.get("id")]
    heading_ids = {id(h) for h in headings}
    used = {tag["id"] for tag in soup.find_all(id=True) if id(tag) not in heading_ids}
    entries = []
    for heading in headings:
        anchor_id = unique = heading["id"]
        n = 1
        while unique in used:
            n += 1
            unique = f"{anchor_id}-{n}"
        used.add(unique)
        if unique != anchor_id:
            heading["id"] = unique
            link = heading.find("a", class_="anchor-link")
            if link is not None:
                link["href"] = f"#{unique}"
        if heading.name in ("h2", "h3"):
            text = heading.get_text(" ", strip=True).removesuffix("¶").strip()
            entries.append((int(heading.name[1]), unique, text))
    return entries


def _toc_markup(soup: Any, entries: list[tuple[int, str, str]]) -> Any:
    """A nested ``<ol>``: h3 entries under the h2 before them."""
    title = soup.new_tag("h2", attrs={"class": "mlmon-h"})
    title.string = "Contents"
    wrapper = soup.new_tag("div", attrs={"class": "mlmon-toc-long"} if len(entries) > 10 else {})
    wrapper.append(title)
    top = soup.new_tag("ol")
    wrapper.append(top)
    last_item, sub = None, None
    for level, anchor_id, text in entries:
        item = soup.new_tag("li")
        link = soup.new_tag("a", href=f"#{anchor_id}")
        link.string = text
        item.append(link)
        if level == 3 and last_item is not None:
            if sub is None:
                sub = soup.new_tag("ol")
                last_item.append(sub)
            sub.append(item)
        else:
            top.append(item)
            last_item, sub = item, None
    return wrapper


_LOADING_TAGS = ["script", "link", "iframe", "img", "source", "video", "audio", "embed", "object"]


def _strip_network_loads(soup: Any) -> None:
    """Remove what would load from the network (e.g. a plotting library's CDN script).

    Outputs are arbitrary HTML; the contract is that a report opens offline
    and fetches nothing, so remote scripts, stylesheets and frames are dropped
    and remote ``src`` attributes removed. Hyperlinks (``<a href>``) stay.
    """
    for tag in soup.find_all(_LOADING_TAGS):
        for attribute in ("src", "href", "data", "poster", "srcset"):
            value = tag.get(attribute)
            if value is None:
                continue
            urls = [value]
            if attribute == "srcset":  # "a.png 1x, b.png 2x"
                urls = [part.split()[0] for part in value.split(",") if part.strip()]
            if any(_is_remote(url) for url in urls):
                logger.warning("Removed a <%s %s=%r> from the report: it loads from the network.",
                               tag.name, attribute, value[:80])
                if tag.name in ("script", "link", "iframe", "embed", "object"):
                    tag.decompose()
                    break
                del tag[attribute]


def _is_remote(url: str) -> bool:
    url = url.strip()
    return url.startswith("//") or urlsplit(url).scheme.lower() in ("http", "https", "ftp", "ws", "wss")


# ---------------------------------------------------------------------------
# Index pages
# ---------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _environment(folder: str) -> Any:
    import jinja2  # lazy: jinja2 only when a page is rendered

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.ChainableUndefined,
    )


def _render(template: str, **context: Any) -> str:
    import markupsafe  # lazy: with jinja2

    folder = template_dir() / TEMPLATE_NAME
    css = (folder / "static" / "report.css").read_text(encoding="utf-8")
    env = _environment(str(folder))
    return env.get_template(template).render(
        css=markupsafe.Markup(css), mlmon_nb_version=__version__, **context
    )


def _relative_href(href: Any, what: str) -> str:
    """Percent-encode a link and make sure it stays inside the archive."""
    href = str(href)
    if href.startswith(("/", "\\")) or _is_remote(href) or urlsplit(href).scheme:
        raise UsageError(
            f"The href of {what} must be a relative path inside the archive. Got {href!r} instead."
        )
    # ':' is encoded, so no part of the result can read as a URL scheme.
    return quote(href, safe="/%#?&=~")


def _verdict_of(summary: Mapping) -> str:
    """The run's sentence for a summary written without one."""
    notebooks = {name: nb.get("status") for name, nb in (summary.get("notebooks") or {}).items()
                 if isinstance(nb, Mapping) and nb.get("status") in SEVERITY}
    checks = [c for c in summary.get("checks") or [] if isinstance(c, Mapping) and c.get("status") in SEVERITY]
    causes = diagnose(checks)
    status = "error" if "error" in notebooks.values() else status_of(causes)
    return run_verdict(status, notebooks, checks, causes, summary.get("incidents") or ())


def _finding_row(finding: Any) -> dict[str, str]:
    if isinstance(finding, Mapping):
        text = finding.get("text") or finding.get("finding") or finding.get("message") or ""
        return {"status": _status(finding.get("status")), "text": str(text),
                "notebook": str(finding.get("notebook") or "")}
    return {"status": "info", "text": str(finding), "notebook": ""}


def render_run_index(summary: Mapping, reports: Mapping[str, str] | None = None,
                     previous: Mapping | None = None) -> str:
    """Render the index.html of one run folder.

    Parameters
    ----------
    summary : Mapping
        The run's ``summary.json`` (INTERFACE §4). Optional extra keys:
        ``verdict`` (one sentence; otherwise built from the checks),
        ``findings`` (strings, or mappings with ``text``, ``status``,
        ``notebook``; otherwise built from the checks that fired),
        ``baseline_id`` and ``packages`` (name -> version).
        ``notebooks[name]["verdict"]`` is shown next to each notebook.
    reports : Mapping[str, str], optional
        Notebook name -> relative link of its report. Defaults to
        ``notebooks[name]["report"]``, then ``<name>.html``.
    previous : Mapping, optional
        The previous window's run and the comparison with it (:func:`mlmon_nb.compare.write_previous`).

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    UsageError
        If a report link is not a relative path.
    """
    reports = dict(reports or {})
    notebooks_in = summary.get("notebooks") or {}
    checks = list(summary.get("checks") or [])

    notebooks = []
    for name in [*notebooks_in, *(n for n in reports if n not in notebooks_in)]:
        info = notebooks_in.get(name) or {}
        href = reports.get(name) or info.get("report") or f"{name}.html"
        notebooks.append({
            "name": name,
            "status": _nb_status(info.get("status")),
            "href": _relative_href(href, f"notebook {name!r}"),
            "verdict": info.get("verdict"),
            "reason": (info.get("reason") or "see its report") if info.get("status") == "skipped" else None,
        })

    if summary.get("findings") is not None:
        findings = [_finding_row(f) for f in summary["findings"]]
        findings.sort(key=lambda f: _severity(f["status"]))  # stable: keeps the given order within a status
    else:
        findings = findings_from_checks(checks)

    fired_checks, quiet_checks = check_tables(checks, {nb["name"]: nb["href"] for nb in notebooks},
                                              summary.get("causes") or ())

    data = summary.get("data") or {}
    rows = [(label, f"{data[key]:,}" if isinstance(data[key], int) else str(data[key]))
            for key, label in (("reference_rows", "Reference rows"), ("current_rows", "Window rows"),
                               ("labelled_rows", "Labelled rows"))
            if data.get(key) is not None]

    return _render(
        "run_index.html.j2",
        run_version=summary.get("mlmon_nb_version") or __version__,
        model=summary.get("model", ""),
        version=summary.get("version", ""),
        win=summary.get("window") or {},
        run_id=summary.get("run_id"),
        generated_at=summary.get("generated_at"),
        baseline_id=summary.get("baseline_id"),
        fingerprint=data.get("fingerprint") or summary.get("fingerprint"),
        packages_=summary.get("packages") or {},
        rows=rows,
        status=_status(summary.get("status")),
        verdict=summary.get("verdict") or _verdict_of(summary),
        findings=findings[:MAX_INDEX_FINDINGS],
        more_findings=max(0, len(findings) - MAX_INDEX_FINDINGS),
        notebooks=notebooks,
        checks=fired_checks[:MAX_SHOWN], more_checks=fired_checks[MAX_SHOWN:], quiet_checks=quiet_checks,
        check_count=len(fired_checks) + len(quiet_checks),
        causes=[_cause_row(c) for c in summary.get("causes") or () if isinstance(c, Mapping)],
        incidents=[_incident_row(i, "../../../../incidents/") for i in summary.get("incidents") or ()
                   if isinstance(i, Mapping)],
        previous=previous,
    )


def _subjects(values: Any, most: int = 6) -> str:
    values = [str(v) for v in values or ()] if isinstance(values, (list, tuple)) else []
    return ", ".join(values[:most]) + (f" and {len(values) - most} more" if len(values) > most else "")


def _refs(refs: Any) -> str:
    """'prediction drift (score), performance (pr_auc, f1)': what a cause explains, by kind."""
    kinds: dict[str, list[str]] = {}
    for ref in refs if isinstance(refs, (list, tuple)) else ():
        if isinstance(ref, Mapping):
            kinds.setdefault(str(ref.get("kind", "check")).replace("_", " "), []).append(str(ref.get("subject", "")))
    return ", ".join(f"{kind} ({_subjects(list(dict.fromkeys(subjects)), 3)})" for kind, subjects in kinds.items())


def _cause_row(cause: Mapping) -> dict[str, Any]:
    """A cause of a run's diagnosis, as the run index and the incident pages show it."""
    name = str(cause.get("cause", ""))
    return {"cause": name, "label": LABELS.get(name, name), "status": _status(cause.get("status")),
            "subjects": _subjects(cause.get("subjects")), "since": cause.get("since"),
            "summary": str(cause.get("summary") or ""), "explains": _refs(cause.get("explains"))}


def incident_file(incident_id: Any) -> str:
    """The file name of an incident's page in ``<archive>/incidents/`` (ids are data: sanitised)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", str(incident_id))[:200].lstrip(".")
    return f"{name or 'incident'}.html"


def _incident_row(inc: Mapping, folder: str = "incidents/") -> dict[str, Any]:
    """An incident as the pages list it; ``folder`` is the relative path to the incident pages."""
    actions = [a for a in inc.get("actions") or () if isinstance(a, Mapping)]
    ack = next((a for a in reversed(actions) if a.get("action") == "ack"), None)
    said = re.search(r"\(acknowledged(?: by (.+?))? until (\S+?)\)", str(inc.get("summary") or ""))
    if ack is None and (inc.get("acked_until") or said):  # a run summary's entry: no actions, its sentence
        ack = {"until": inc.get("acked_until") or said.group(2),
               "by": inc.get("acked_by") or (said.group(1) if said else None)}
    cause = str(inc.get("cause", ""))
    return {"id": str(inc.get("id", "")), "href": _relative_href(folder + incident_file(inc.get("id")), "an incident"),
            "model": str(inc.get("model") or ""), "version": str(inc.get("version") or ""),
            "cause": cause, "label": LABELS.get(cause, cause), "subjects": _subjects(inc.get("subjects")),
            "status": str(inc.get("status", "")), "severity": _status(inc.get("severity")),
            "first_seen": inc.get("first_seen"), "last_seen": inc.get("last_seen"),
            "summary": str(inc.get("summary") or ""), "notification": inc.get("notification"),
            "ack": ack, "ack_active": inc.get("status") == "acknowledged"}


def _timestamp(value: Any) -> float:
    """Sort key of an ISO timestamp; unparsable or missing ones sort oldest."""
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return float("-inf")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


def _count(run: Mapping, status: str, key: str) -> int:
    if run.get(key) is not None:
        return int(run[key])
    return sum(1 for check in run.get("checks") or [] if check.get("status") == status)


def _run_row(run: Mapping) -> dict[str, Any]:
    """A run as the archive index shows it (the figures the timeline needs kept)."""
    win = run.get("window") or {}
    return {
        "model": str(run.get("model") or ""), "version": str(run.get("version") or ""),
        "window": win, "run_id": str(run.get("run_id") or ""), "generated_at": run.get("generated_at"),
        "status": _status(run.get("status")),
        "window_label": " → ".join(_when_label(win.get(key)) for key in ("start", "end")),
        "generated_label": _when_label(run.get("generated_at")),
        "alerts": _count(run, "alert", "alerts"), "warns": _count(run, "warn", "warns"),
        "href": _relative_href(run.get("href", ""), f"run {run.get('run_id')!r}"),
        "complete": bool(run.get("complete")), "causes": run.get("causes"),
        "notebooks": run.get("notebooks") if isinstance(run.get("notebooks"), Mapping) else {},
    }


def _window_runs(rows: Sequence[dict]) -> list[dict]:
    """One run per window, oldest window first: its latest complete run, else its latest run.

    A re-run of one notebook (or of a team notebook) never hides the full run of its window.
    """
    best: dict[str, dict] = {}
    for row in rows:
        start = str(row["window"].get("start") or "")
        rank = (row["complete"], _timestamp(row["generated_at"]), row["run_id"])
        if start not in best or rank > (best[start]["complete"], _timestamp(best[start]["generated_at"]),
                                        best[start]["run_id"]):
            best[start] = row
    return [best[k] for k in sorted(best, key=lambda k: (_timestamp(k), k))]


def _window_short(start: Any) -> str:
    """A timeline column's label: '09-07', or '09-07 06:00' for a window not starting at midnight."""
    label = _when_label(start)
    return label[5:] if len(label) == 10 else label[5:16]


def _timeline(windows: Sequence[dict]) -> dict[str, Any]:
    """A grid of windows (columns) by causes (rows) seen at warn or above in any of them."""
    seen = {c.get("cause") for w in windows for c in w["causes"] or () if isinstance(c, Mapping)
            and c.get("status") in ("warn", "alert")}
    grid = []
    for cause in (c for c in CAUSES if c in seen):
        cells = []
        for w in windows:
            found = next((c for c in w["causes"] or () if isinstance(c, Mapping) and c.get("cause") == cause), None)
            observed = w["causes"] is not None and any(
                w["notebooks"].get(nb) not in (None, "error", "skipped") for nb in NOTEBOOKS[cause])
            status = _status(found.get("status")) if found else ("ok" if observed else "none")
            what = {"none": "not observed", "ok": "not seen"}.get(status, status)
            subjects = _subjects(found.get("subjects"), 4) if found else ""
            cells.append({"status": status, "href": w["href"], "window": str(w["window"].get("start") or ""),
                          "title": f"{LABELS[cause]}, window {w['window_label']}: {what}"
                                   + (f" in {subjects}" if subjects else "") + f" (run {w['run_id']})"})
        grid.append({"cause": cause, "label": LABELS[cause], "cells": cells})
    return {"columns": [{"label": _window_short(w["window"].get("start")), "title": w["window_label"],
                         "complete": w["complete"]} for w in windows], "rows": grid}


def render_archive_index(
    runs: Sequence[Mapping], baselines: Sequence[Mapping] = (), title: str = "mlmon archive",
    charts: Sequence[Mapping] = (), damaged: Sequence[Mapping] = (), incidents: Sequence[Mapping] = (),
) -> str:
    """Render the archive's index.html: open incidents, a timeline per model version, every run.

    The page opens with the open incidents (worst severity first, then the
    oldest), then each model version's latest window and a grid of its last
    windows by cause. Each window is shown by its latest *complete* run (all
    window notebooks ran), so a re-run of one notebook never hides a full run;
    a window without a complete run is shown by its latest run. The runs table
    can be filtered by model, version and status with select boxes driven by a
    small inline script; without JavaScript every row shows.

    Parameters
    ----------
    runs : Sequence[Mapping]
        One mapping per run: its ``summary.json`` fields (``model``,
        ``version``, ``window``, ``run_id``, ``generated_at``, ``status``,
        ``checks``) plus ``href``, the link to the run's index.html relative
        to the archive root. ``alerts`` and ``warns`` (ints), when present,
        take the place of counting the checks. Catalogue entries also carry
        ``complete``, ``notebooks`` (name -> status) and compact ``causes``.
    baselines : Sequence[Mapping], optional
        One mapping per baseline: ``model``, ``version``, ``baseline_id``,
        ``href`` (relative) and ``generated_at``.
    title : str, optional
        The page title.
    charts : Sequence[Mapping], optional
        Trend charts: ``model``, ``version``, ``src`` (a ``data:image/png``
        URI) and ``alt`` (what the chart shows).
    damaged : Sequence[Mapping], optional
        Run folders that could not be read: ``folder`` (relative) and ``reason``.
    incidents : Sequence[Mapping], optional
        Every incident (:meth:`mlmon_nb.incidents.Incident.to_dict`); each one's
        page is ``incidents/<id>.html`` (:func:`incident_file`).

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    UsageError
        If a link is not a relative path.
    """
    for chart in charts:
        if not str(chart.get("src", "")).startswith("data:image/png;base64,"):
            raise UsageError("trend charts must be embedded data:image/png URIs")
    rows = sorted((_run_row(run) for run in runs), key=lambda r: _timestamp(r["generated_at"]), reverse=True)

    series: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        series.setdefault((row["model"], row["version"]), []).append(row)
    trends = []
    for (model, version), group in sorted(series.items()):
        windows = _window_runs(group)  # oldest first: the run that speaks for each window
        trends.append({"model": model, "version": version, "latest": windows[-1], "count": len(group),
                       "windows": len(windows), "recent": windows[-TREND_LENGTH:],
                       "timeline": _timeline(windows[-TREND_LENGTH:])})
    incident_rows = [_incident_row(i) for i in incidents]
    open_rows = sorted((i for i in incident_rows if i["status"] in OPEN),
                       key=lambda i: (_severity(i["severity"]), _timestamp(i["first_seen"])))
    closed_rows = sorted((i for i in incident_rows if i["status"] not in OPEN),
                         key=lambda i: _timestamp(i["last_seen"]), reverse=True)

    baseline_rows = [
        {"model": str(b.get("model") or ""), "version": str(b.get("version") or ""),
         "baseline_id": str(b.get("baseline_id") or ""), "generated_at": b.get("generated_at"),
         "href": _relative_href(b["href"], f"baseline {b.get('baseline_id')!r}") if b.get("href") else None}
        for b in baselines
    ]
    baseline_rows.sort(key=lambda b: (b["model"], b["version"], -_timestamp(b["generated_at"])))

    return _render(
        "archive_index.html.j2",
        title=title,
        runs=rows,
        series=trends,
        open_incidents=open_rows,
        closed_incidents=closed_rows[:MAX_CLOSED],
        more_closed=max(0, len(closed_rows) - MAX_CLOSED),
        baselines=baseline_rows,
        charts=list(charts),
        damaged=[{"folder": str(d.get("folder", "")), "reason": str(d.get("reason", ""))} for d in damaged],
        models=sorted({r["model"] for r in rows}),
        versions=sorted({r["version"] for r in rows}, key=lambda v: (len(v), v)),
        statuses=[s for s in STATUS_ORDER if any(r["status"] == s for r in rows)],
    )


def render_incident_page(incident: Mapping, windows: Sequence[Mapping] = ()) -> str:
    """Render ``<archive>/incidents/<id>.html``: one incident, verdict first.

    Parameters
    ----------
    incident : Mapping
        :meth:`mlmon_nb.incidents.Incident.to_dict`. Its ``trajectory`` rows
        (``window``, ``status``, ``subjects``, ``run``) link to the run reports
        relative to the page (``../<run href>``).
    windows : Sequence[Mapping], optional
        What each trajectory run's summary says about the cause (gathered by
        :func:`mlmon_nb.archive.incident_windows`): ``run`` (href), ``cause``
        (the summary's cause entry or None), ``evidence`` and ``explains``
        (the matching checks, with their figures) and ``problem`` (why the
        summary could not be read, or None).

    Returns
    -------
    str
        The HTML page.
    """
    row = _incident_row(incident)
    said = {str(w.get("run")): w for w in windows}
    trajectory, changes = [], []
    for step in incident.get("trajectory") or ():
        if not isinstance(step, Mapping):
            continue
        href = str(step.get("run") or "")
        what = said.get(href) or {}
        cause = what.get("cause") if isinstance(what.get("cause"), Mapping) else None
        checks = [c for c in what.get("evidence") or () if isinstance(c, Mapping)]
        explains = [c for c in what.get("explains") or () if isinstance(c, Mapping)]
        changes += [{"subject": str(c.get("subject", "")), "at": c.get("at"), "notebook": str(c.get("notebook", "")),
                     "window": step.get("window")} for c in [*checks, *explains] if c.get("kind") == "change_point"]
        trajectory.append({
            "window": step.get("window"), "status": _status(step.get("status")),
            "label": " → ".join(_when_label(v) for v in ((what.get("window") or {}).get("start", step.get("window")),
                                                          (what.get("window") or {}).get("end")) if v),
            "subjects": _subjects(step.get("subjects")), "href": _relative_href("../" + href, "a run") if href else None,
            "run": href, "cause": _cause_row(cause) if cause else None, "problem": what.get("problem"),
            "evidence": [check_row(c) for c in sorted_checks(checks)][:MAX_INDEX_FINDINGS],
            "more": max(0, len(checks) - MAX_INDEX_FINDINGS), "explains": _refs(explains)})
    actions = [{"action": str(a.get("action", "")), "at": a.get("at"), "by": str(a.get("by") or ""),
                "until": a.get("until"), "note": str(a.get("note") or "")}
               for a in incident.get("actions") or () if isinstance(a, Mapping)]
    return _render("incident.html.j2", inc=row, open=row["status"] in OPEN, opened_in=incident.get("opened_in"),
                   opened_href=_relative_href("../" + str(incident["opened_in"]), "a run")
                   if incident.get("opened_in") else None, closed=incident.get("closed"),
                   trajectory=trajectory, changes=sorted(changes, key=lambda c: str(c["at"])), actions=actions,
                   evidence_found=any(t["cause"] or t["evidence"] for t in trajectory))
