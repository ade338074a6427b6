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

import datetime as dt
import json
import logging
import os
import shutil
import time
import fcntl
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .alerts import reconcile
from .catalog import scan
from .errors import ArchiveError
from .files import write_atomic

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
    """Give a claimed run id back (after its commit, or when the run is discarded)."""
    (Path(parent) / f".{run_id}.reserved").unlink(missing_ok=True)


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


def write_index(archive: Path) -> Path:
    """Bring the archive's derived files up to date; return the index page's path.

    Under the archive's lock: scan the run folders (:func:`mlmon_nb.catalog.scan`),
    re-derive alert lines that committed runs lack (:func:`mlmon_nb.alerts.reconcile`),
    and rebuild ``<archive>/index.html``. Damaged run folders are listed with the
    reason and skipped; a trend chart that cannot be drawn is left out with a logged
    warning. Never fails because of what one run folder holds.
    """
    from .report import render_archive_index  # jinja2 and the templates only when a page is written

    archive = Path(archive)
    with locked(archive):
        catalogue = scan(archive)
        reconcile(archive, catalogue.runs)
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
        path = archive / "index.html"
        write_atomic(path, render_archive_index(
            catalogue.runs, baselines, title=f"mlmon archive: {archive.name}", charts=trend_charts(catalogue.runs),
            damaged=[{"folder": d.folder, "reason": d.reason} for d in catalogue.damaged]))
    return path


def trend_charts(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One embedded PNG of trends per model version that has at least two windows."""
    import base64
    import io

    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["model"], run["version"]), []).append(run)
    charts = []
    for (model, version), group in sorted(groups.items()):
        if len({r["window"]["start"] for r in group}) < 2:
            continue
        import matplotlib  # only when there is a trend to draw (a second of imports otherwise)

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from .plots.trends import trends

        try:
            fig = trends(group, f"{model} v{version}: trends across windows")
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
        except (ValueError, OverflowError, TypeError) as exc:  # never let one chart stop the index
            logger.warning("trend chart of %s v%s not drawn: %s", model, version, exc)
            continue
        finally:
            plt.close("all")
        charts.append({"model": model, "version": version,
                       "src": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(),
                       "alt": f"{model} v{version}: alerting features, performance, latency p95 and "
                              f"exposure concentration per window"})
    return charts
