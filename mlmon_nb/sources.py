"""Data sources: files, globs and folders of parquet or CSV, and the DuckDB scan that reads them.

A *source* is a parquet or CSV file, a glob, or a folder of them (hive-style
``key=value`` partition folders included, unless a folder is named like a
column of the files: the files' values then win). Folders are walked with a
limit and system folders are refused, so ``logs: /`` fails at once.
"""

from __future__ import annotations

import glob as globmod
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import duckdb

from .errors import DataError

logger = logging.getLogger(__name__)

_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt")


def quote(name: str) -> str:
    """Quote an identifier for DuckDB (column names are data: never trust them)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB connection set to UTC.

    Parameters
    ----------
    threads : int, optional
        Worker threads; DuckDB's default (all cores) when omitted.
    """
    con = duckdb.connect(database=":memory:")
    con.execute("SET TimeZone='UTC'")
    # Progress is measured (query_progress) but never drawn: mlmon prints its own, one line at a time.
    # In a Jupyter kernel DuckDB accepts these settings only with ipywidgets importable (a dependency);
    # without it, long passes simply report no progress.
    try:
        con.execute("SET enable_progress_bar_print = false")
        con.execute("SET enable_progress_bar = true")
    except duckdb.Error as exc:
        logger.debug("DuckDB progress not measured: %s", exc)
    if threads:
        con.execute(f"SET threads={int(threads)}")
    return con


@dataclass(frozen=True)
class Source:
    """A readable data location and the DuckDB table expression that scans it."""

    path: Path
    kind: str
    files: tuple[str, ...]
    where: str
    hive: bool = True

    @property
    def relation(self) -> str:
        """SQL table function reading every file of the source."""
        files = "[" + ", ".join(literal(f) for f in self.files) + "]"
        hive = "true" if self.hive else "false"
        if self.kind == "parquet":
            return f"read_parquet({files}, hive_partitioning={hive}, union_by_name=true)"
        return f"read_csv({files}, hive_partitioning={hive}, union_by_name=true, auto_detect=true)"


_HIVE_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=[^/]*$")


def _hive_keys(root: str, files: Sequence[str]) -> set[str]:
    """``key`` of every ``key=value`` folder between the source folder and its files."""
    keys: set[str] = set()
    for f in files[:1000]:
        rel = os.path.relpath(os.path.dirname(f), root) if os.path.isdir(root) else os.path.dirname(f)
        for part in Path(rel).parts:
            m = _HIVE_SEGMENT.match(part)
            if m:
                keys.add(m.group(1))
    return keys


def _file_columns(file: str, kind: str) -> set[str]:
    """Column names stored in one data file (its own schema, no partition keys)."""
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq  # noqa: only when partition folders are present

            return set(pq.read_schema(file).names)
        with open(file, encoding="utf-8", errors="replace") as fh:
            return {c.strip().strip('"') for c in fh.readline().rstrip("\r\n").split(",")}
    except (OSError, ValueError):
        return set()


def kind_of(file: str) -> str | None:
    lower = file.lower()
    if lower.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(_CSV_SUFFIXES):
        return "csv"
    return None


def resolve_source(path: str | Path, where: str) -> Source:
    """Resolve a file, glob or folder into a :class:`Source`.

    Parameters
    ----------
    path : str or Path
        A parquet/CSV file, a glob pattern, or a folder searched recursively.
    where : str
        Where the path was configured (``mlmon.yaml: models.x.logs``), for messages.

    Raises
    ------
    DataError
        When nothing readable is found there, or parquet and CSV are mixed.
    """
    text = str(path)
    if not isinstance(path, (str, os.PathLike)) or re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", text):
        raise DataError(f"{where}: {text} is a catalog table or a URI, which only the Spark engine reads; "
                        f"this step reads the logs through DuckDB (local parquet/CSV files)")
    if any(ch in text for ch in "*?["):
        files = sorted(f for f in globmod.glob(text, recursive=True) if os.path.isfile(f))
        if not files:
            raise DataError(f"{where}: no files match {text}")
    elif os.path.isdir(text):
        files = _data_files(text, where)
        if not files:
            raise DataError(f"{where}: folder {text} holds no parquet or CSV files")
    elif os.path.isfile(text):
        files = [text]
    else:
        raise DataError(f"{where}: not found: {text}")
    kinds = {kind_of(f) for f in files}
    if None in kinds:
        bad = next(f for f in files if kind_of(f) is None)
        raise DataError(f"{where}: {bad}: expected a .parquet or .csv file")
    if len(kinds) > 1:
        raise DataError(f"{where}: {text} mixes parquet and CSV files; keep one format per source")
    for f in files:
        if os.path.getsize(f) == 0:
            raise DataError(f"{where}: {f} is empty (0 bytes)")
    kind = kinds.pop()
    hive = True
    keys = _hive_keys(text, files)
    if keys:
        clash = keys & _file_columns(files[0], kind)
        if clash:  # a folder named like a column must never replace the logged values
            logger.warning("%s: partition folders %s are named like columns of the files; the files' "
                           "values are used", where, ", ".join(f"{k}=..." for k in sorted(clash)))
            hive = False
    return Source(path=Path(text), kind=kind, files=tuple(files), where=where, hive=hive)


#: Folders that are never a data source (walking them would list the whole machine).
SYSTEM_FOLDERS = frozenset({"/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin",
                            "/sys", "/usr", "/var"})
MAX_SOURCE_FILES = 200_000
"""Most files a source folder may hold (a folder with more is not a data folder by mistake)."""
MAX_WALKED_ENTRIES = 2_000_000


def _data_files(folder: str, where: str) -> list[str]:
    """Parquet/CSV files under a folder (hidden and ``_``-prefixed names skipped), bounded.

    Raises
    ------
    DataError
        For a system folder, or a folder so large it cannot be meant (``logs: /``).
    """
    real = os.path.realpath(folder)
    if real in SYSTEM_FOLDERS or os.path.dirname(real) == real:
        raise DataError(f"{where}: {folder} is a system folder, not a folder of data; "
                        f"point it at the folder holding the parquet or CSV files")
    files, walked = [], 0
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        walked += len(dirs) + len(names)
        for name in names:
            if not name.startswith((".", "_")) and kind_of(name):
                files.append(os.path.join(root, name))
        if len(files) > MAX_SOURCE_FILES or walked > MAX_WALKED_ENTRIES:
            raise DataError(f"{where}: {folder} holds more than {MAX_SOURCE_FILES:,} files or "
                            f"{MAX_WALKED_ENTRIES:,} entries; point it at the folder of this model's data "
                            f"(or a glob such as {os.path.join(folder, 'day=*', '*.parquet')})")
    return sorted(f for f in files if os.path.isfile(f))


def friendly_error(exc: Exception, source: Source) -> DataError:
    """Turn a DuckDB error about a file into one line that names the file."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lower = str(exc).lower()
    if "unicode" in lower or "utf-8" in lower or "utf8" in lower:
        what = "contains bytes that are not valid UTF-8"
    elif "parquet" in lower and ("magic" in lower or "not a parquet" in lower or "too small" in lower
                                 or "corrupt" in lower or "invalid" in lower):
        what = "is not a readable parquet file (corrupt or truncated)"
    else:
        what = f"could not be read ({msg})"
    files = [f for f in source.files if os.path.basename(f) in str(exc)]
    name = files[0] if files else str(source.path)
    return DataError(f"{source.where}: {name} {what}")


def describe(source: Source, con: duckdb.DuckDBPyConnection | None = None) -> dict[str, str]:
    """Return the columns of a source and their DuckDB types.

    Raises
    ------
    DataError
        When a file of the source cannot be read.
    """
    con = con or connect()
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {source.relation}").fetchall()
    except duckdb.Error as exc:
        raise friendly_error(exc, source) from exc
    return {r[0]: r[1] for r in rows}
