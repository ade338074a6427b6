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
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

from .checks import SCHEMA, validate_summary
from .errors import ArchiveError

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


_RESERVED: set[str] = set()
_RESERVE_LOCK = threading.Lock()


def reserve_run_id(parent: Path, run_id: str) -> str:
    """A run id not yet used under ``parent`` by a finished or concurrent run of this process."""
    with _RESERVE_LOCK:
        for n in range(0, 1000):
            name = run_id if n == 0 else f"{run_id}-{n}"
            key = str(Path(parent) / name)
            if key not in _RESERVED and not (Path(parent) / name).exists():
                _RESERVED.add(key)
                return name
    raise ArchiveError(f"{parent}: could not find a free run id for {run_id}")


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
    """Move a finished staging folder into place under a unique run id.

    Returns
    -------
    Path
        The final run folder. Its name is ``run_id``, or ``run_id-N`` when a
        run with that id already exists (two runs in the same second).
    """
    target_parent.mkdir(parents=True, exist_ok=True)
    for n in range(0, 1000):
        name = run_id if n == 0 else f"{run_id}-{n}"
        target = target_parent / name
        if target.exists():
            continue
        try:
            os.rename(staging, target)
        except OSError:
            if target.exists():
                continue
            raise
        discard_parent = staging.parent
        try:
            discard_parent.rmdir()
        except OSError:
            pass
        return target
    raise ArchiveError(f"{target_parent}: could not find a free run folder name for {run_id}")


def write_atomic(path: Path, text: str) -> None:
    """Write a text file by writing a sibling and renaming it over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def iter_summaries(archive: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every run folder of an archive with its summary, in no particular order."""
    archive = Path(archive)
    if not archive.is_dir():
        return
    for path in archive.glob("*/*/*/*/summary.json"):
        if STAGING in path.parts:
            continue
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            logger.warning("skipping unreadable %s: %s", path, exc)
            continue
        if summary.get("schema") != SCHEMA:
            logger.warning("skipping %s: schema %r is not %s", path, summary.get("schema"), SCHEMA)
            continue
        yield path.parent, summary


def load_summary(run_dir: Path) -> dict[str, Any]:
    """Read and validate a run folder's summary.json.

    Raises
    ------
    ArchiveError
        When the folder is not a run folder or its summary is of another schema.
    """
    run_dir = Path(run_dir)
    path = run_dir / "summary.json"
    if not run_dir.is_dir():
        raise ArchiveError(f"{run_dir}: not found or not a folder")
    if not path.is_file():
        raise ArchiveError(f"{run_dir}: not a run folder (no summary.json)")
    try:
        summary = json.loads(path.read_text())
    except ValueError as exc:
        raise ArchiveError(f"{path}: not valid JSON ({exc})") from exc
    validate_summary(summary, str(path))
    return summary


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


def write_index(archive: Path) -> Path:
    """Rebuild ``<archive>/index.html`` from what is archived; return its path."""
    from .report import render_archive_index

    archive = Path(archive)
    runs = []
    for run_dir, summary in iter_summaries(archive):
        entry = dict(summary)
        entry["href"] = run_dir.relative_to(archive).as_posix() + "/index.html"
        runs.append(entry)
    runs.sort(key=lambda r: (r.get("generated_at", ""), r.get("run_id", "")), reverse=True)
    baselines = []
    for base_dir, manifest in iter_baselines(archive):
        entry = {
            "model": manifest.get("model"),
            "version": manifest.get("version"),
            "baseline_id": manifest.get("baseline_id", base_dir.name),
            "generated_at": manifest.get("generated_at", ""),
            "href": base_dir.relative_to(archive).as_posix() + "/baseline.html",
        }
        baselines.append(entry)
    baselines.sort(key=lambda b: b["generated_at"], reverse=True)
    path = archive / "index.html"
    write_atomic(path, render_archive_index(runs, baselines, title=f"mlmon archive: {archive.name}",
                                            charts=trend_charts(runs)))
    return path


def trend_charts(runs: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One embedded PNG of trends per model version that has at least two windows."""
    import base64
    import io

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
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

        fig = trends(group, f"{model} v{version}: trends across windows")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        charts.append({"model": model, "version": version,
                       "src": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(),
                       "alt": f"{model} v{version}: alerting features, performance, latency p95 and "
                              f"exposure concentration per window"})
    return charts
