"""Append-only JSON-lines journals of the archive (``alerts.jsonl``, ``webhooks.jsonl``, ...).

Several ``mlmon`` processes may append to one journal at once, and any of them
may be killed or meet a full disk mid-write. A journal therefore:

- appends under an exclusive ``flock`` of the file, so concurrent appends never
  interleave and a read-then-append (:meth:`Journal.ensure`) is atomic;
- writes every byte or none: a short write is continued, and a failed one
  (e.g. ``ENOSPC``) truncates the file back to where it was before raising;
- repairs a torn last line (a record without its newline, left by a killed
  writer) before appending, by cutting it off; whoever owns the record
  re-derives it (the archive re-derives alert lines from its run folders);
- reads tolerantly: a line that is not a JSON object is reported as damaged
  with its line number and skipped, never fatal.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from .errors import ArchiveError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Contents:
    """What a journal holds: its records and the lines that could not be read."""

    records: tuple[dict[str, Any], ...] = ()
    damaged: tuple[tuple[int, str], ...] = ()
    torn_tail: bool = False


@dataclass
class Journal:
    """One JSON-lines file of the archive.

    Parameters
    ----------
    path : Path
        The file (created on the first append).
    """

    path: Path
    _fd: int | None = field(default=None, repr=False)

    def read(self) -> Contents:
        """Every record in order; damaged lines are reported, a torn last line is ignored."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return Contents()
        except OSError as exc:
            raise ArchiveError(f"{self.path}: cannot read ({exc.strerror or exc})") from exc
        return _parse(data)

    @contextmanager
    def locked(self) -> Iterator["Journal"]:
        """Hold the journal's exclusive lock (re-entrant within one ``with``)."""
        if self._fd is not None:
            yield self
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise ArchiveError(f"{self.path}: cannot open for appending ({exc.strerror or exc})") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._fd = fd
            _repair_tail(fd, self.path)
            yield self
        finally:
            self._fd = None
            os.close(fd)  # closing releases the lock

    def append(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Append records (one line each); return how many. All bytes are written or none."""
        data = b"".join(_line(r) for r in records)
        if not data:
            return 0
        with self.locked():
            _write_all(self._fd, data, self.path)
        return data.count(b"\n")

    def ensure(self, key: Callable[[Mapping[str, Any]], Any], records: Iterable[Mapping[str, Any]]) -> int:
        """Append the records whose ``key`` is not in the journal yet (idempotent); return how many."""
        records = list(records)
        if not records:
            return 0
        with self.locked():
            have = {key(r) for r in self.read().records}
            missing = [r for r in records if key(r) not in have]
            return self.append(missing)


def _line(record: Mapping[str, Any]) -> bytes:
    text = json.dumps(record, sort_keys=True, allow_nan=False)
    return text.encode() + b"\n"


def _parse(data: bytes) -> Contents:
    lines = data.split(b"\n")
    torn = bool(lines and lines[-1])
    body = lines[:-1]
    records, damaged = [], []
    for n, raw in enumerate(body, 1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError as exc:
            damaged.append((n, f"not JSON ({exc.msg})"))
            continue
        if not isinstance(value, dict):
            damaged.append((n, f"a JSON {type(value).__name__}, not an object"))
            continue
        records.append(value)
    if torn:
        damaged.append((len(body) + 1, "torn last line (a writer was interrupted); ignored"))
    return Contents(tuple(records), tuple(damaged), torn)


def _repair_tail(fd: int, path: Path) -> None:
    """Cut a torn last line (no trailing newline) off the file; the lock is held."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    if os.pread(fd, 1, size - 1) == b"\n":
        return
    start = max(0, size - (1 << 20))
    while True:  # the last newline, reading back 1 MiB at a time
        cut = os.pread(fd, size - start, start).rfind(b"\n")
        if cut >= 0 or start == 0:
            keep = start + cut + 1 if cut >= 0 else 0
            break
        start = max(0, start - (1 << 20))
    logger.warning("%s: removing a torn last line of %d bytes left by an interrupted writer", path, size - keep)
    os.ftruncate(fd, keep)


def _write_all(fd: int, data: bytes, path: Path) -> None:
    before = os.fstat(fd).st_size
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.EIO, "write returned no progress")
            view = view[written:]
    except OSError as exc:
        try:
            os.ftruncate(fd, before)  # no half record left behind
        except OSError:
            logger.error("%s: could not truncate a failed append back to %d bytes", path, before)
        raise ArchiveError(f"{path}: could not append ({exc.strerror or exc}); nothing was added") from exc
