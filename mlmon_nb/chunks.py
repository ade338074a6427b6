"""Chunk sizes: the one parser of ``chunk: 1d`` (mlmon.yaml and notebook parameters).

A chunk is a positive whole number of hours, days or weeks: ``12h``, ``1d``,
``2w``. Every area cuts windows into chunks of this length, starting at the
window's start.
"""

from __future__ import annotations

import datetime as dt
import re

from .errors import UsageError

CHUNK_PATTERN = r"[0-9]+[hdw]"
DEFAULT_CHUNK = "1d"
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def chunk_error(value: object, where: str = "chunk") -> str | None:
    """Why ``value`` is not a chunk size (None when it is one)."""
    if not isinstance(value, str) or not re.fullmatch(CHUNK_PATTERN, value.strip()):
        return f"expected a chunk size like 1d, 12h or 1w (hours, days, weeks), got {value!r}"
    if int(value.strip()[:-1]) <= 0:
        return f"the chunk size must be positive, got {value!r}"
    return None


def parse_chunk(value: object, where: str = "chunk"):
    """The length (a ``pandas.Timedelta``) of a chunk size like ``1d``, ``12h`` or ``1w``.

    Raises
    ------
    UsageError
        Naming ``where`` (a key path or a parameter) when it is not such a size.

    Examples
    --------
    >>> parse_chunk("12h")
    Timedelta('0 days 12:00:00')
    >>> parse_chunk("2w").days
    14
    """
    problem = chunk_error(value, where)
    if problem:
        raise UsageError(f"{where}: {problem}")
    import pandas as pd  # here: config validates chunk sizes without loading pandas

    text = str(value).strip()
    return pd.Timedelta(**{_UNITS[text[-1]]: int(text[:-1])})


def chunk_word(length: dt.timedelta) -> str:
    """How a report names one chunk: ``day``, ``week``, ``6-hour chunk``, ``2-day chunk``.

    Examples
    --------
    >>> chunk_word(parse_chunk("1d")), chunk_word(parse_chunk("6h")), chunk_word(parse_chunk("2d"))
    ('day', '6-hour chunk', '2-day chunk')
    """
    if length == dt.timedelta(days=1):
        return "day"
    if length == dt.timedelta(weeks=1):
        return "week"
    hours = length / dt.timedelta(hours=1)
    return f"{hours:g}-hour chunk" if hours < 24 else f"{hours / 24:g}-day chunk"


def to_utc(moment):
    """A ``pandas.Timestamp`` in UTC; a naive time is taken to be UTC already.

    Examples
    --------
    >>> to_utc("2026-10-28T12:00")
    Timestamp('2026-10-28 12:00:00+0000', tz='UTC')
    >>> to_utc("2026-10-28T14:00+02:00")
    Timestamp('2026-10-28 12:00:00+0000', tz='UTC')
    """
    import pandas as pd  # here: config validates chunk sizes without loading pandas

    t = pd.Timestamp(moment)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
