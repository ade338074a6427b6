"""The archive's catalogue: every run folder, validated on read, summarised once.

Run folders are immutable, so each one is read and validated once and its
compact entry kept in ``<archive>/.mlmon/catalog.json`` (keyed by the folder and
the size and modification time of its ``summary.json``). Everything derived
from the archive (the index page, its trends, the alert log's re-derivation)
reads the catalogue, so its cost grows with the new runs, not with the archive.

A run folder whose summary is missing, is not JSON, does not match the schema
(e.g. ``"window": "last week"``, ``"checks": null``) or has a window outside
:data:`mlmon_nb.windows.EARLIEST`..:data:`~mlmon_nb.windows.LATEST` is listed as
*damaged* with the reason, and skipped: it never stops a run, the index or the
alert log. The catalogue file itself is a cache: deleting or corrupting it only
costs one full re-read.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .checks import READABLE_SCHEMAS, SEVERITY, summary_problem
from .errors import ArchiveError
from .files import write_atomic
from .resources import WINDOW_NOTEBOOKS
from .windows import EARLIEST, LATEST

logger = logging.getLogger(__name__)

CACHE = Path(".mlmon") / "catalog.json"
CACHE_FORMAT = 2
#: (label, check kind, subjects or None to count alerting checks): the figures the trends plot.
TREND_FIGURES = (
    ("alerting features", "feature_drift", None),
    ("realized", "performance", ("roc_auc",)),
    ("estimated (no labels)", "estimated_performance", ("roc_auc",)),
    ("p95", "operational", ("latency_p95",)),
    ("Gini", "feedback_loop", ("exposure_gini",)),
)


@dataclass(frozen=True)
class Damaged:
    """A run folder the archive cannot use, and why."""

    folder: str
    reason: str


@dataclass(frozen=True)
class Catalogue:
    """The runs of an archive (compact entries, newest first) and the damaged folders."""

    runs: tuple[dict[str, Any], ...]
    damaged: tuple[Damaged, ...]


def entry_of(summary: Mapping[str, Any], folder: str) -> dict[str, Any]:
    """The compact entry of a validated summary: what the index and its trends need."""
    checks = summary["checks"]
    figures: dict[str, float] = {}
    for label, kind, subjects in TREND_FIGURES:
        of_kind = [c for c in checks if c["kind"] == kind]
        if subjects is None:
            if of_kind:
                figures[label] = float(sum(c["status"] == "alert" for c in of_kind))
            continue
        values = [c.get("value") for c in of_kind if c["subject"] in subjects and isinstance(c.get("value"), (int, float))]
        if values:
            figures[label] = float(values[0])
    return {
        "folder": folder, "href": f"{folder}/index.html",
        "model": summary["model"], "version": summary["version"], "window": dict(summary["window"]),
        "run_id": summary["run_id"], "generated_at": summary["generated_at"], "status": summary["status"],
        "verdict": summary.get("verdict"),
        "notebooks": {name: nb["status"] for name, nb in summary["notebooks"].items()},
        "alerts": sum(c["status"] == "alert" for c in checks),
        "alert_lines": sum(SEVERITY[c["status"]] >= SEVERITY["warn"] for c in checks)
        + sum(nb["status"] == "error" for nb in summary["notebooks"].values()),
        "warns": sum(c["status"] == "warn" for c in checks),
        "figures": figures,
        "complete": set(WINDOW_NOTEBOOKS) <= set(summary["notebooks"]),
        **({"causes": [{"cause": c["cause"], "status": c["status"], "subjects": list(c.get("subjects", ())),
                        "since": c.get("since"), "evidence": len(c.get("evidence", ())),
                        "summary": c.get("summary", "")} for c in summary["causes"]]}
           if "causes" in summary else {}),
        "incidents": [{k: i.get(k) for k in ("id", "cause", "status", "first_seen", "notification")}
                      for i in summary.get("incidents", ())],
    }


def problem_of(summary: Any) -> str | None:
    """Why a parsed summary cannot be used (None when it can)."""
    if not isinstance(summary, dict):
        return f"summary.json holds a JSON {type(summary).__name__}, not an object"
    if summary.get("schema") not in READABLE_SCHEMAS:
        return f"schema {summary.get('schema')!r} is not one of {', '.join(READABLE_SCHEMAS)}"
    problem = summary_problem(summary)
    if problem is not None:
        return problem[:300]
    try:
        start = dt.datetime.fromisoformat(summary["window"]["start"])
        end = dt.datetime.fromisoformat(summary["window"]["end"])
        dt.datetime.fromisoformat(summary["generated_at"])
    except (TypeError, ValueError) as exc:
        return f"window or generated_at is not an ISO datetime ({exc})"
    if start.tzinfo is None or end.tzinfo is None:
        return "window bounds have no time zone"
    if not (EARLIEST <= start < end <= LATEST):
        return f"window {start.date()}/{end.date()} is outside {EARLIEST.date()}..{LATEST.date()} or empty"
    if any(c["status"] not in SEVERITY for c in summary["checks"]):
        return "a check has an unknown status"
    return None


def _run_folders(archive: Path) -> Iterable[Path]:
    """``<model>/<version>/<window>/<run>`` folders (not baselines, staging or hidden ones)."""
    for model in _dirs(archive):
        for version in _dirs(model):
            for window in _dirs(version):
                if window.name.startswith("baseline"):  # baseline/ and baseline-failed/
                    continue
                yield from _dirs(window)


def _dirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def scan(archive: Path) -> Catalogue:
    """The archive's runs and damaged run folders (reads only what changed since the last scan)."""
    archive = Path(archive)
    cache_path = archive / CACHE
    cache = _read_cache(cache_path)
    fresh: dict[str, Any] = {}
    runs, damaged = [], []
    for folder in _run_folders(archive):
        rel = folder.relative_to(archive).as_posix()
        summary_path = folder / "summary.json"
        try:
            st = summary_path.stat()
            sig = [st.st_mtime_ns, st.st_size]
        except OSError:
            damaged.append(Damaged(rel, "no summary.json (not a run folder, or an incomplete copy)"))
            continue
        cached = cache.get(rel)
        if not (isinstance(cached, dict) and cached.get("sig") == sig):
            cached = {"sig": sig, **_read_one(summary_path, rel)}
        fresh[rel] = cached
        if cached.get("entry"):
            runs.append(cached["entry"])
        else:
            damaged.append(Damaged(rel, str(cached.get("reason", "unreadable"))))
    if fresh != cache:
        _write_cache(cache_path, fresh)
    runs.sort(key=lambda r: (r["generated_at"], r["run_id"]), reverse=True)
    for d in damaged:
        logger.warning("archive: skipping damaged run folder %s: %s", d.folder, d.reason)
    return Catalogue(tuple(runs), tuple(damaged))


def _read_one(path: Path, rel: str) -> dict[str, Any]:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return {"reason": f"summary.json unreadable ({exc})"}
    except ValueError as exc:
        return {"reason": f"summary.json is not valid JSON ({exc})"}
    problem = problem_of(summary)
    if problem:
        return {"reason": problem}
    return {"entry": entry_of(summary, rel)}


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(data.get("runs"), dict):
        return {}
    return data["runs"]


def _write_cache(path: Path, runs: Mapping[str, Any]) -> None:
    try:
        write_atomic(path, json.dumps({"format": CACHE_FORMAT, "runs": runs}, separators=(",", ":")))
    except (OSError, ArchiveError) as exc:  # a cache: a read-only archive only loses the speed-up
        logger.info("archive catalogue not saved (%s)", exc)


def load_run(run_dir: Path) -> dict[str, Any]:
    """A run folder's full summary, validated like the catalogue does.

    Raises
    ------
    ArchiveError
        When the folder is not a usable run folder (the message says why).
    """
    run_dir = Path(run_dir)
    path = run_dir / "summary.json"
    if not run_dir.is_dir():
        raise ArchiveError(f"{run_dir}: not found or not a folder")
    if not path.is_file():
        raise ArchiveError(f"{run_dir}: not a run folder (no summary.json)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ArchiveError(f"{path}: not valid JSON ({exc})") from exc
    problem = problem_of(summary)
    if problem:
        raise ArchiveError(f"{path}: {problem}")
    return summary


__all__ = ["Catalogue", "Damaged", "TREND_FIGURES", "entry_of", "load_run", "problem_of", "scan"]
