"""Time windows ``START/END``: the one parser of a window given on the command line or in mlmon.yaml.

Each side is an ISO date (``2026-11-16``, midnight UTC) or an ISO datetime
(``2026-11-16T06:00``; naive means UTC, ``+02:00`` or ``Z`` offsets are
converted to UTC). A window is ``[START, END)``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .errors import UsageError

_REPR_LIMIT = 60
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
"""No window starts before this (logs are never older; year 1 would overflow date arithmetic)."""
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.timezone.utc)
"""No window ends after this."""
MAX_WINDOW_DAYS = 366
"""Longest window by default (``max_window_days`` in mlmon.yaml changes it)."""
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)


def _parse_instant(text: str, side: str) -> dt.datetime:
    text = text.strip()
    if ISO_DATE.fullmatch(text) or _ISO_DATETIME.fullmatch(text):
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{side} {text!r} is not a valid date or datetime ({exc})") from None
        if moment.tzinfo is None:
            return moment.replace(tzinfo=dt.timezone.utc)
        return moment.astimezone(dt.timezone.utc)
    raise ValueError(
        f"{side} {text!r} is not an ISO date or datetime "
        "(e.g. 2026-11-16 or 2026-11-16T06:00:00+00:00)"
    )


def window_bounds(text: Any) -> tuple[dt.datetime, dt.datetime]:
    """Parse ``START/END``; raise ValueError with a short reason when it is not that."""
    if not isinstance(text, str):
        raise ValueError(f"expected a string START/END, got {type(text).__name__}")
    sides = text.split("/")
    if len(sides) != 2:
        raise ValueError(
            "expected START/END with one '/' (e.g. 2026-11-16/2026-11-23), "
            f"got {len(sides) - 1} '/'"
        )
    start = _parse_instant(sides[0], "START")
    end = _parse_instant(sides[1], "END")
    if end <= start:
        raise ValueError("END must be after START")
    return start, end


def parse_window(text: str) -> tuple[dt.datetime, dt.datetime]:
    """Parse a time window ``START/END`` into two tz-aware UTC datetimes.

    Each side is an ISO date (``2026-11-16``, midnight UTC) or an ISO datetime
    (``2026-11-16T06:00``, naive means UTC; ``+02:00`` or ``Z`` offsets are
    converted to UTC). The window is ``[START, END)``.

    Parameters
    ----------
    text : str
        The window, e.g. ``"2026-11-16/2026-11-23"``.

    Returns
    -------
    tuple of two datetime
        ``(start, end)``, both with ``tzinfo=datetime.timezone.utc``.

    Raises
    ------
    UsageError
        When ``text`` is not of that form or END is not after START.

    Examples
    --------
    >>> parse_window("2026-11-16/2026-11-23T06:00:00+02:00")[1].isoformat()
    '2026-11-23T04:00:00+00:00'
    """
    try:
        start, end = window_bounds(text)
    except ValueError as exc:
        raise UsageError(f"window {_short(text)}: {exc}") from None
    if start < EARLIEST or end > LATEST:
        raise UsageError(f"window {_short(text)}: dates must lie between {EARLIEST.date()} and {LATEST.date()}")
    return start, end


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."
