"""The archive: atomic run folders and the index pages.

Layout (INTERFACE.md section 3)::

    <archive>/index.html
    <archive>/<model>/<version>/baseline/<BASELINE_ID>/...
    <archive>/<model>/<version>/<START>_<END>/<RUN_ID>/{index.html, summary.json, *.html, *.ipynb}

A run folder is assembled in ``<archive>/.staging/`` and renamed into place
in one step, so it exists completely or not at all, and is never changed
afterwards. Only ``<archive>/index.html`` is rewritten (atomically, too).
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .alerts import reconcile
from .catalog import Catalogue, scan
from .errors import ArchiveError
from .files import write_atomic, write_atomic_bytes
from .incidents import History, Policy, derive, read_actions

logger = logging.getLogger(__name__)

STAGING = ".staging"
STALE_STAGING_SECONDS = 24 * 3600


def window_slug(start: dt.datetime, end: dt.datetime) -> str:
    """Folder name of a window: dates when both bounds are midnight UTC, else UTC datetimes."""
    s, e = start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)
    if all(t.hour == t.minute == t.second == t.microsecond == 0 for t in (s, e)):
        return f"{s:%Y-%m-%d}_{e:%Y-%m-%d}"
    return f"{s:%Y%m%dT%H%M%SZ}_{e:%Y%m%dT%H%M%SZ}"


def new_run_id(now: dt.datetime | None = None) -> str:
    """A run id from the UTC clock, e.g. ``20261123T060102Z``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def reserve_run_id(parent: Path, run_id: str) -> str:
    """A run id no finished or concurrent run (of any process) uses under ``parent``.

    The id is claimed by creating ``<parent>/.<id>.reserved`` exclusively (``O_EXCL``
    is atomic on the local filesystem), so two runs started in the same second get
    ``X`` and ``X-1``, and every page of a run carries the id its folder will have.
    :func:`commit` renames the staging folder to that id and removes the claim.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - STALE_STAGING_SECONDS
    for old in parent.glob(".*.reserved"):  # claims of runs killed long ago
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass
    for n in range(0, 1000):
        name = run_id if n == 0 else f"{run_id}-{n}"
        if (parent / name).exists():
            continue
        try:
            fd = os.open(parent / f".{name}.reserved", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        if (parent / name).exists():  # committed between the check and the claim
            release_run_id(parent, name)
            continue
        return name
    raise ArchiveError(f"{parent}: could not find a free run id for {run_id}")


def release_run_id(parent: Path, run_id: str) -> None:
    """Give a claimed run id back (after its commit, or when the run is discarded).

    A window folder left empty by a discarded run is removed: nothing of it stays in the archive.
    """
    (Path(parent) / f".{run_id}.reserved").unlink(missing_ok=True)
    try:
        Path(parent).rmdir()  # only when empty
    except OSError:
        pass


MIN_FREE_BYTES = 64 << 20
"""Free space a run needs in the archive's filesystem to start (reports, notebooks, summary)."""


def check_writable(archive: Path, where: str = "archive") -> None:
    """The archive folder can be written (checked before a run; nothing is created).

    Raises
    ------
    ArchiveError
        When the path is a file, lies under a file, is not writable, or its filesystem is full.
    """
    archive = Path(archive)
    probe = archive
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ArchiveError(f"{where}: {probe} is a file, not a folder; set 'archive' to a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ArchiveError(f"{where}: {probe} is not writable by this user; fix its permissions or "
                           f"set 'archive' to a writable folder")
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return
    if free < MIN_FREE_BYTES:
        raise ArchiveError(f"{where}: only {free >> 20} MiB free on the filesystem of {probe}; "
                           f"a run needs at least {MIN_FREE_BYTES >> 20} MiB")


def disk_full(path: Path) -> bool:
    """Whether the filesystem holding ``path`` is (nearly) full."""
    try:
        return shutil.disk_usage(path).free < (1 << 20)
    except OSError:
        return False


def stage(archive: Path) -> Path:
    """Create a private staging folder inside the archive (same filesystem as the target)."""
    root = Path(archive) / STAGING
    root.mkdir(parents=True, exist_ok=True)
    _sweep_stale(root)
    path = root / uuid.uuid4().hex
    path.mkdir(parents=True)  # parents: a concurrent commit may have just removed an empty root
    return path


def _sweep_stale(root: Path) -> None:
    """Remove staging folders left behind by runs that were killed long ago."""
    cutoff = time.time() - STALE_STAGING_SECONDS
    for child in root.iterdir():
        try:
            if child.stat().st_mtime < cutoff:
                shutil.rmtree(child, ignore_errors=True)
        except OSError:
            continue


def discard(staging: Path) -> None:
    """Throw a staging folder away (the run did not complete)."""
    shutil.rmtree(staging, ignore_errors=True)
    parent = staging.parent
    try:
        parent.rmdir()  # only when empty
    except OSError:
        pass


def commit(staging: Path, target_parent: Path, run_id: str) -> Path:
    """Move a finished staging folder into place as ``<target_parent>/<run_id>``.

    ``run_id`` must have been claimed with :func:`reserve_run_id`; the claim is
    released once the folder is in place.

    Raises
    ------
    ArchiveError
        When a folder of that name exists (the id was not reserved).
    """
    target_parent.mkdir(parents=True, exist_ok=True)
    target = target_parent / run_id
    if target.exists():
        raise ArchiveError(f"{target}: a run folder of that id exists; run ids must be reserved")
    try:
        os.rename(staging, target)
    except OSError as exc:
        raise ArchiveError(f"{target}: could not move the run into place ({exc.strerror or exc})") from exc
    release_run_id(target_parent, run_id)
    try:
        staging.parent.rmdir()  # the staging root, when no other run uses it
    except OSError:
        pass
    return target


def iter_baselines(archive: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every archived baseline with its manifest."""
    archive = Path(archive)
    if not archive.is_dir():
        return
    for path in archive.glob("*/*/baseline/*/baseline.json"):
        try:
            yield path.parent, json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            logger.warning("skipping unreadable %s: %s", path, exc)


@contextmanager
def locked(archive: Path) -> Iterator[None]:
    """Hold the archive's bookkeeping lock (index page, catalogue, journals' re-derivation)."""
    archive = Path(archive)
    folder = archive / ".mlmon"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_index(archive: Path, policy: Policy = Policy()) -> Path:
    """Bring the archive's derived files up to date under its lock; return the index page's path."""
    with locked(archive):
        update(archive, policy)
    return Path(archive) / "index.html"


def update(archive: Path, policy: Policy = Policy()) -> tuple[Catalogue, History]:
    """Re-derive everything derived from the run folders (the archive's lock is held by the caller).

    Scan the run folders (:func:`mlmon_nb.catalog.scan`), derive the incidents and their
    notifications (:func:`mlmon_nb.incidents.derive`), write the notification lines
    the alert log lacks (:func:`mlmon_nb.alerts.reconcile`), the incident pages
    (:func:`write_incident_pages`) and ``<archive>/index.html``. Damaged run folders are listed with the reason and
    skipped; a trend chart that cannot be drawn is left out with a logged warning.
    Never fails because of what one run folder holds.
    """
    from .report import render_archive_index  # jinja2 and the templates only when a page is written

    archive = Path(archive)
    catalogue = scan(archive)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    history = derive(catalogue.runs, read_actions(archive), policy, now)  # an ack made since the last run shows
    reconcile(archive, history.pages)
    baselines = []
    for base_dir, manifest in iter_baselines(archive):
        baselines.append({
            "model": manifest.get("model"),
            "version": manifest.get("version"),
            "baseline_id": manifest.get("baseline_id", base_dir.name),
            "generated_at": manifest.get("generated_at", ""),
            "href": base_dir.relative_to(archive).as_posix() + "/baseline.html",
        })
    baselines.sort(key=lambda b: str(b["generated_at"]), reverse=True)
    incidents = [i.to_dict() for i in history.incidents]
    write_incident_pages(archive, incidents)
    write_atomic(archive / "index.html", render_archive_index(
        catalogue.runs, baselines, title=f"mlmon archive: {archive.name}",
        charts=trend_charts(catalogue.runs, archive / ".mlmon" / "charts"),
        damaged=[{"folder": d.folder, "reason": d.reason} for d in catalogue.damaged], incidents=incidents))
    return catalogue, history


INCIDENT_PAGES = "incidents"
"""``<archive>/incidents/<id>.html``: one page per incident, re-derived like the index."""


def incident_windows(archive: Path, incident: Mapping[str, Any],
                     summaries: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """What each run of an incident's timeline says about its cause, read from its summary.json.

    One entry per run: ``run`` (href), ``window``, ``cause`` (the summary's entry for the
    incident's cause, or None), ``evidence`` and ``explains`` (the checks they name, with
    their figures) and ``problem`` (why the summary could not be read, else None). A
    missing or damaged run folder is noted, never fatal. ``summaries`` caches loaded
    summaries by folder across calls.
    """
    archive = Path(archive)
    cache = {} if summaries is None else summaries
    out: list[dict[str, Any]] = []
    hrefs = [str(t.get("run")) for t in incident.get("trajectory") or () if isinstance(t, Mapping) and t.get("run")]
    for href in dict.fromkeys(hrefs):
        folder = href.removesuffix("/index.html")
        if folder not in cache:
            try:
                if not (archive / folder).resolve().is_relative_to(archive.resolve()):
                    raise ArchiveError(f"{folder}: not a folder of the archive")
                # the catalogue validated these folders: read them, check only the shape used here
                summary = json.loads((archive / folder / "summary.json").read_text(encoding="utf-8"))
                if not isinstance(summary, dict) or not isinstance(summary.get("checks"), list) \
                        or not isinstance(summary.get("window"), dict):
                    raise ArchiveError(f"{folder}: summary.json is not a run summary")
                cache[folder] = summary
            except (ArchiveError, OSError, ValueError) as exc:
                cache[folder] = exc
        summary = cache[folder]
        if isinstance(summary, Exception):
            out.append({"run": href, "problem": str(summary)})
            continue
        checks = [c for c in summary["checks"] if isinstance(c, Mapping)]
        cause = next((c for c in summary.get("causes") or ()
                      if isinstance(c, Mapping) and c.get("cause") == incident.get("cause")), None)
        out.append({"run": href, "window": dict(summary["window"]), "cause": cause, "problem": None,
                    "evidence": _named_checks(cause.get("evidence") if cause else (), checks),
                    "explains": _named_checks(cause.get("explains") if cause else (), checks)})
    return out


def _named_checks(refs: Any, checks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The checks a cause's references name (notebook, kind, subject, method, status), figures included."""
    found = []
    for ref in refs if isinstance(refs, (list, tuple)) else ():
        if isinstance(ref, Mapping):
            found.append(next((c for c in checks if all(c.get(k) == v for k, v in ref.items())), ref))
    return found


def write_incident_pages(archive: Path, incidents: Sequence[Mapping[str, Any]]) -> list[Path]:
    """Write ``<archive>/incidents/<id>.html`` for every incident whose page changed; return them.

    A page records a digest of what it shows (the incident and the page templates); an
    unchanged one is not rewritten, so run summaries are read again only for incidents
    that moved. Pages of incidents that no longer derive (runs removed) are deleted.
    """

    from .report import incident_file, render_incident_page, template_dir  # jinja2 only when a page is written

    archive = Path(archive)
    folder = archive / INCIDENT_PAGES
    templates = template_dir() / "mlmon"
    salt = "".join((templates / name).read_text(encoding="utf-8")
                   for name in ("incident.html.j2", "macros.html.j2", "page.html.j2", "static/report.css"))
    summaries: dict[str, Any] = {}
    written, keep = [], set()
    for inc in incidents:
        path = folder / incident_file(inc.get("id"))
        keep.add(path.name)
        digest = hashlib.sha256((salt + json.dumps(inc, sort_keys=True, default=str)).encode()).hexdigest()[:24]
        if _page_digest(path) == digest:
            continue
        html = render_incident_page(inc, incident_windows(archive, inc, summaries))
        write_atomic(path, html.replace("<head>", f'<head>\n<meta name="mlmon-digest" content="{digest}">', 1))
        written.append(path)
    for stale in (folder.glob("*.html") if folder.is_dir() else ()):
        if stale.name not in keep and _page_digest(stale):  # only pages this function wrote
            stale.unlink(missing_ok=True)
    return written


def _page_digest(path: Path) -> str | None:
    """The digest an incident page was written with (None: no page, or not one of ours)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(600)
    except OSError:
        return None
    marker = '<meta name="mlmon-digest" content="'
    at = head.find(marker)
    return head[at + len(marker):].split('"', 1)[0] if at >= 0 else None


def trend_charts(runs: Sequence[Mapping[str, Any]], cache: Path | None = None) -> list[dict[str, str]]:
    """One embedded PNG of trends per model version that has at least two windows.

    With ``cache`` (a folder), a chart whose points did not change since it was drawn is
    reused: a run redraws only its own model version's chart, not every one.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["model"], run["version"]), []).append(run)
    charts = []
    for (model, version), group in sorted(groups.items()):
        if len({r["window"]["start"] for r in group}) < 2:
            continue
        key = json.dumps(sorted([r["window"]["start"], r["generated_at"], r.get("figures") or {}] for r in group),
                         sort_keys=True)
        digest = hashlib.sha256(f"{model}/{version}/{key}".encode()).hexdigest()[:32]
        cached = cache / f"{digest}.png" if cache is not None else None
        if cached is not None and cached.is_file():
            png = cached.read_bytes()
        else:
            png = _draw_trends(group, f"{model} v{version}: trends across windows")
            if png is None:
                continue
            if cached is not None:
                try:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    write_atomic_bytes(cached, png)
                except OSError:  # a cache: a read-only archive only loses the speed-up
                    pass
        charts.append({"model": model, "version": version,
                       "src": "data:image/png;base64," + base64.b64encode(png).decode(),
                       "alt": f"{model} v{version}: alerting features, performance, latency p95 and "
                              f"exposure concentration per window"})
    if cache is not None and cache.is_dir():  # keep the newest few per model version, drop the rest
        for old in sorted(cache.glob("*.png"), key=lambda p: p.stat().st_mtime)[:-4 * max(len(groups), 1)]:
            old.unlink(missing_ok=True)
    return charts


def _draw_trends(group: Sequence[Mapping[str, Any]], title: str) -> bytes | None:
    import matplotlib  # only when a chart must be drawn (a second of imports otherwise)

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # lazy: matplotlib only when a chart must be drawn

    from .plots.trends import trends  # lazy: matplotlib

    try:
        fig = trends(group, title)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    except (ValueError, OverflowError, TypeError) as exc:  # never let one chart stop the index
        logger.warning("%s not drawn: %s", title, exc)
        return None
    finally:
        plt.close("all")
