"""One self-contained HTML file holding a whole run, or a whole incident: for a postmortem.

A run's bundle is its index page followed by every notebook's report, each
in its own section. Element ids are prefixed per notebook so that tables of
contents keep working, and links from the index to ``<notebook>.html`` point
at the sections instead. An incident's bundle is the incident's page followed
by the bundle of each run of its timeline (ids prefixed per run, links to the
runs pointing at their sections). Like every report it loads nothing from the
network.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from .archive import incident_windows
from .catalog import load_run
from .compare import PREVIOUS_PAGE
from .files import write_atomic
from .errors import ArchiveError


def _soup(html: str):
    from bs4 import BeautifulSoup  # lazy: bs4 only when a bundle is built

    return BeautifulSoup(html, "html.parser")


def _prefix_ids(page, prefix: str) -> None:
    for el in page.find_all(id=True):
        el["id"] = f"{prefix}{el['id']}"
    for a in page.find_all("a", href=True):
        if a["href"].startswith("#"):
            a["href"] = f"#{prefix}{a['href'][1:]}"


def _unlink_outside(page) -> None:
    """Links to archive pages a bundle does not hold become their text (a dead link helps nobody)."""
    for a in page.find_all("a", href=True):
        href = a["href"]
        if href.startswith(("#", "http://", "https://", "mailto:", "data:")) or a.get("data-run"):
            continue
        a.name = "span"
        del a["href"]
        a["title"] = f"{href} (in the archive, not in this bundle)"


def build_bundle(run_dir: Path) -> str:
    """The bundle of a run folder as HTML text.

    Raises
    ------
    ArchiveError
        When the folder is missing, is not a run folder, has an unsupported
        summary schema, or lacks a report its summary lists.
    """
    run_dir = Path(run_dir)
    summary = load_run(run_dir)
    index_path = run_dir / "index.html"
    if not index_path.is_file():
        raise ArchiveError(f"{run_dir}: not a complete run folder (no index.html)")
    index = _soup(index_path.read_text(encoding="utf-8"))
    names = list(summary["notebooks"])
    parts = {f"{name}.html": name for name in names}
    if (run_dir / PREVIOUS_PAGE).is_file():  # the comparison with the previous run travels along
        parts[PREVIOUS_PAGE] = PREVIOUS_PAGE.removesuffix(".html")
    for a in index.find_all("a", href=True):
        target = a["href"].split("#")[0]
        if target in parts:
            a["href"] = f"#nb-{parts[target]}"
    page = index.find("div", class_="mlmon-page")
    if page is None:
        raise ArchiveError(f"{index_path}: not an mlmon run index")
    for name in names:
        path = run_dir / summary["notebooks"][name]["report"]
        if not path.is_file():
            raise ArchiveError(f"{run_dir}: report {path.name} listed in summary.json is missing")
        report = _soup(path.read_text(encoding="utf-8"))
        body = report.find("div", class_="mlmon-page")
        if body is None:
            raise ArchiveError(f"{path}: not an mlmon report")
        _prefix_ids(body, f"{name}--")
        section = index.new_tag("section", attrs={"id": f"nb-{name}", "class": "mlmon-bundle-part"})
        section.append(index.new_tag("hr"))
        for child in list(body.children):
            section.append(child.extract())
        page.append(section)
    if PREVIOUS_PAGE in parts:
        body = _soup((run_dir / PREVIOUS_PAGE).read_text(encoding="utf-8")).find("div", class_="mlmon-page")
        if body is not None:
            _prefix_ids(body, "compare-previous--")
            section = index.new_tag("section", attrs={"id": "nb-compare-previous", "class": "mlmon-bundle-part"})
            section.append(index.new_tag("hr"))
            for child in list(body.children):
                section.append(child.extract())
            page.append(section)
    _unlink_outside(page)
    if index.title is not None:
        index.title.string = f"{index.title.string or 'mlmon run'} (all reports)"
    style = index.new_tag("style")
    style.string = ".mlmon-bundle-part{margin-top:3rem;page-break-before:always}"
    index.head.append(style)
    return str(index)


def write_bundle(run_dir: Path, out: Path | None = None) -> Path:
    """Write the bundle of a run (default: ``<model>_<version>_<window>_<run id>.html`` here)."""
    summary = load_run(run_dir)
    if out is None:
        window = f"{summary['window']['start'][:10]}_{summary['window']['end'][:10]}"
        out = Path.cwd() / re.sub(r"[^A-Za-z0-9._-]", "_",
                                  f"{summary['model']}_{summary['version']}_{window}_{summary['run_id']}.html")
    out = Path(out)
    if out.resolve().is_relative_to(Path(run_dir).resolve()):
        raise ArchiveError(f"{out}: a run folder is never changed; write the bundle elsewhere")
    write_atomic(out, build_bundle(run_dir))
    return out


def build_incident_bundle(archive: Path, incident: Mapping[str, Any]) -> str:
    """The bundle of an incident (:meth:`mlmon_nb.incidents.Incident.to_dict`) as HTML text.

    A run of its timeline that cannot be bundled (folder or report missing) is
    named with the reason in its place; the rest of the bundle is still written.
    """
    from .report import incident_file, render_incident_page  # lazy: jinja2 and the templates

    archive = Path(archive)
    page = _soup(render_incident_page(incident, incident_windows(archive, incident)))
    body = page.find("div", class_="mlmon-page")
    footer = body.find("footer", class_="mlmon-footer", recursive=False)
    hrefs = list(dict.fromkeys([*(str(t.get("run")) for t in incident.get("trajectory") or () if t.get("run")),
                                *(str(r) for r in incident.get("runs") or ())]))
    sections = {href: f"run-{n}" for n, href in enumerate(hrefs, 1)}
    own = incident_file(incident.get("id"))
    for a in page.find_all("a", href=True):
        if a.get("data-run") in sections:
            a["href"] = f"#{sections[a['data-run']]}"
        elif a["href"].startswith("../"):  # the archive's pages are not in the bundle
            a.unwrap()
    for href, anchor in sections.items():
        section = page.new_tag("section", attrs={"id": anchor, "class": "mlmon-bundle-part"})
        section.append(page.new_tag("hr"))
        try:
            run = _soup(build_bundle(archive / href.removesuffix("/index.html"))).find("div", class_="mlmon-page")
            if run is None:
                raise ArchiveError(f"{href}: not an mlmon run index")
        except ArchiveError as exc:
            note = page.new_tag("p", attrs={"class": "mlmon-card mlmon-muted"})
            note.string = f"Run {href} could not be bundled: {exc}"
            section.append(note)
        else:
            for a in run.find_all("a", href=True):  # the run index's link to this very incident's page
                if a["href"].endswith("incidents/" + own):
                    a["href"] = "#"
            _prefix_ids(run, f"{anchor}--")
            for child in list(run.children):
                section.append(child.extract())
        if footer is not None:
            footer.insert_before(section)
        else:
            body.append(section)
    page.title.string = f"{page.title.string or 'mlmon incident'} (with every run's reports)"
    style = page.new_tag("style")
    style.string = ".mlmon-bundle-part{margin-top:3rem;page-break-before:always}"
    page.head.append(style)
    return str(page)


def write_incident_bundle(archive: Path, incident: Mapping[str, Any], out: Path | None = None) -> Path:
    """Write the bundle of an incident (default: ``<incident id>.html`` in the current folder)."""
    out = Path(out) if out is not None else Path.cwd() / re.sub(r"[^A-Za-z0-9._-]", "_", f"{incident['id']}.html")
    for href in incident.get("runs") or ():
        if out.resolve().is_relative_to((Path(archive) / str(href).removesuffix("/index.html")).resolve()):
            raise ArchiveError(f"{out}: a run folder is never changed; write the bundle elsewhere")
    write_atomic(out, build_incident_bundle(archive, incident))
    return out
