"""Progress of long aggregation passes, from a notebook's kernel to the ``mlmon`` command.

A window of hundreds of millions of rows takes minutes to scan. The kernel that
scans it (an engine's :meth:`~mlmon_nb.engines.Scan.aggregate`) reports how far
it got; the command that runs the notebook prints it on the terminal and in the
run's log. They share one small JSON file per notebook in the run's staging
artefacts (``<work_dir>/.progress/<notebook>.json``), rewritten atomically at most
once a second and removed when the notebook ends, so nothing of it is archived.

The engine measures; this module only carries the figure:

- :class:`Reporter` (kernel side): ``with reporter.scan("data drift summary", rows,
  fraction):`` polls ``fraction()`` (0..1, or None while unknown) in a thread
  while the block runs, and writes ``{"label", "done", "total", "at"}``;
- :func:`read` (command side): the latest state, or None.

A notebook opened in JupyterLab has no run folder: the reporter then logs at
INFO level only.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

logger = logging.getLogger(__name__)

FOLDER = ".progress"
#: Seconds between two polls of the engine (and at most one file write per poll).
POLL_SECONDS = 1.0


def path_of(work_dir: str | os.PathLike, notebook: str) -> Path:
    """Where the kernel of ``notebook`` writes its progress in a run's artefact folder."""
    return Path(work_dir) / FOLDER / f"{notebook}.json"


class Reporter:
    """Writes a notebook's scan progress where the runner reads it (or only logs it)."""

    def __init__(self, work_dir: str | os.PathLike | None, notebook: str):
        self.path = path_of(work_dir, notebook) if work_dir else None
        self.notebook = notebook

    def write(self, label: str, done: int, total: int) -> None:
        """Record that ``done`` of ``total`` rows of the pass ``label`` are scanned."""
        state = {"label": label, "done": int(done), "total": int(total), "at": time.time()}
        if self.path is None:
            logger.info("%s: %s, %s of %s rows scanned", self.notebook, label, f"{done:,}", f"{total:,}")
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(state), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:  # progress is a courtesy: never fail a pass for it
            logger.debug("progress not written: %s", exc)

    @contextmanager
    def scan(self, label: str, total: int, fraction: Callable[[], float | None]) -> Iterator[None]:
        """Poll ``fraction()`` while the block runs; write the rows it stands for.

        ``fraction`` is called from a helper thread (DuckDB's ``query_progress``
        and Spark's status tracker may be); it returns the scanned share of the
        pass, or None while the engine does not know yet. The rows written only
        grow: a share below one already written is skipped.
        """
        stop = threading.Event()

        def poll() -> None:
            last = -1
            while not stop.wait(POLL_SECONDS):
                try:
                    share = fraction()
                except Exception as exc:  # the engine closed, or the query ended between two polls
                    logger.debug("progress poll: %s", exc)
                    continue
                if share is None or not 0.0 <= share <= 1.0:
                    continue
                done = int(round(share * total))
                # Never backwards: Spark's share dips when a pass's next stage adds tasks.
                if done > last:
                    self.write(label, done, total)
                    last = done

        thread = threading.Thread(target=poll, name="mlmon-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=POLL_SECONDS + 1.0)
        self.write(label, total, total)


def read(path: str | os.PathLike) -> dict[str, Any] | None:
    """The latest progress written at ``path`` (None when there is none or it is unreadable)."""
    try:
        state = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not {"label", "done", "total"} <= set(state):
        return None
    return state


def line(state: dict[str, Any]) -> str:
    """``data drift summary: 45,000,000 of 100,000,000 rows scanned (45%)``."""
    done, total = int(state["done"]), int(state["total"])
    share = f" ({done / total:.0%})" if total > 0 else ""
    return f"{state['label']}: {done:,} of {total:,} rows scanned{share}"


__all__ = ["FOLDER", "POLL_SECONDS", "Reporter", "line", "path_of", "read"]
