"""One self-contained HTML file holding a whole run: the file to attach to a postmortem.

The bundle is the run's index page followed by every notebook's report, each
in its own section. Element ids are prefixed per notebook so that tables of
contents keep working, and links from the index to ``<notebook>.html`` point
at the sections instead. Like every report it loads nothing from the network.
"""

from __future__ import annotations

import re
from pathlib import Path

from .catalog import load_run
from .files import write_atomic
from .errors import ArchiveError


def _soup(html: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser")


def _prefix_ids(page, prefix: str) -> None:
    for el in page.find_all(id=True):
        el["id"] = f"{prefix}{el['id']}"
    for a in page.find_all("a", href=True):
        if a["href"].startswith("#"):
            a["href"] = f"#{prefix}{a['href'][1:]}"


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
    for a in index.find_all("a", href=True):
        target = a["href"].split("#")[0]
        stem = target[:-5] if target.endswith(".html") else None
        if stem in names:
            a["href"] = f"#nb-{stem}"
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
