"""Time windows: the one parser of a window given on the command line or in mlmon.yaml.

A window is ``[START, END)``, written in one of these forms:

- ``START/END``: each side an ISO date (``2026-11-16``, midnight UTC) or an ISO
  datetime (``2026-11-16T06:00``; naive means UTC, ``+02:00`` or ``Z`` offsets
  are converted to UTC);
- ``START/P7D`` or ``P7D/END``: an ISO 8601 duration after a start or before an
  end (``PnW``, ``PnD``, ``PTnH``, ``PTnM`` and their combinations; months and
  years have no fixed length and are refused);
- relative to now (command line only): ``last-week`` (the last complete ISO week,
  Monday 00:00 UTC to the next Monday, before today), ``last-Nd`` (the N days
  ending at today's midnight UTC) and ``last-Nh`` (the N hours ending at the
  current hour).

mlmon.yaml accepts ``START/END`` only (:func:`window_bounds`): a configured
window must not move. A relative window is resolved once, by the command, into
absolute bounds (:func:`resolve_window`): the run folder, the notebooks and
``summary.json`` only ever see ``START/END``.
"""

from __future__ import annotations

import datetime as dt
import os
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
NOW_VARIABLE = "MLMON_NOW"
"""Environment variable fixing "now" for relative windows and ``--every`` (for tests only)."""
EXAMPLES = "e.g. last-week, last-7d, 2026-08-17/P7D, 2026-08-17/2026-08-24"
"""Every form of a window, as error messages show them."""
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_RELATIVE = re.compile(r"last-(?:(week)|([0-9]+)([dh]))")
_DURATION = re.compile(r"P(?:([0-9]+)W)?(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?)?")
_LENGTH = re.compile(r"([0-9]+)([hdw])")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


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


def now_utc(now: dt.datetime | None = None) -> dt.datetime:
    """The moment relative windows are resolved against: ``now`` if given, else ``$MLMON_NOW``
    (an ISO date or datetime; for tests only), else the clock. Always tz-aware UTC.

    Raises
    ------
    UsageError
        When ``$MLMON_NOW`` is set but is not an ISO date or datetime.
    """
    if now is not None:
        return now.replace(tzinfo=dt.timezone.utc) if now.tzinfo is None else now.astimezone(dt.timezone.utc)
    fixed = os.environ.get(NOW_VARIABLE)
    if fixed:
        try:
            return _parse_instant(fixed, NOW_VARIABLE)
        except ValueError as exc:
            raise UsageError(f"environment variable {exc}") from None
    return dt.datetime.now(dt.timezone.utc)


def _duration(text: str) -> dt.timedelta:
    """An ISO 8601 duration of fixed length: ``P7D``, ``P2W``, ``PT6H``, ``P1DT12H``, ``PT30M``."""
    code = text.strip().upper()
    match = _DURATION.fullmatch(code)
    if match is None or code in ("P", "PT") or code.endswith("T"):
        if re.fullmatch(r"P[0-9]+[YM].*", code):
            raise ValueError(f"duration {text.strip()!r}: months and years have no fixed length; "
                             "use days or weeks (e.g. P30D, P4W)")
        raise ValueError(f"duration {text.strip()!r} is not an ISO 8601 duration of weeks, days, "
                         "hours or minutes (e.g. P7D, P2W, PT6H)")
    weeks, days, hours, minutes = (int(g or 0) for g in match.groups())
    length = dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    if length <= dt.timedelta(0):
        raise ValueError(f"duration {text.strip()!r} must be longer than zero")
    return length


def _is_duration(side: str) -> bool:
    return side.strip()[:1] in ("P", "p")


def _relative(text: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    code = text.strip().lower()
    match = _RELATIVE.fullmatch(code)
    if match is None and code.startswith("last"):
        raise ValueError(f"expected last-week, last-Nd or last-Nh (N days or hours), or START/END ({EXAMPLES})")
    if match is None:
        raise ValueError(f"expected START/END with one '/', START/DURATION or a relative window ({EXAMPLES})")
    week, count, unit = match.groups()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if week:
        monday = midnight - dt.timedelta(days=midnight.weekday())
        return monday - dt.timedelta(weeks=1), monday
    if int(count) < 1:
        raise ValueError(f"N must be at least 1 (e.g. last-7d, last-6h), got {count}")
    if unit == "h":
        hour = now.replace(minute=0, second=0, microsecond=0)
        return hour - dt.timedelta(hours=int(count)), hour
    return midnight - dt.timedelta(days=int(count)), midnight


def _bounds(text: Any, now: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    if not isinstance(text, str):
        raise ValueError(f"expected a string START/END, got {type(text).__name__}")
    sides = text.split("/")
    if len(sides) == 1:
        return _relative(text, now_utc(now))
    if len(sides) != 2:
        raise ValueError(f"expected START/END with one '/', got {len(sides) - 1} '/' ({EXAMPLES})")
    first, second = sides
    if _is_duration(first) and _is_duration(second):
        raise ValueError(f"one side must be a date: START/DURATION or DURATION/END ({EXAMPLES})")
    if _is_duration(second):
        start = _parse_instant(first, "START")
        return start, start + _duration(second)
    if _is_duration(first):
        end = _parse_instant(second, "END")
        return end - _duration(first), end
    return window_bounds(text)


def parse_window(text: str, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """Parse a time window into two tz-aware UTC datetimes ``(start, end)``, END excluded.

    Accepts ``START/END``, ``START/DURATION``, ``DURATION/END`` and the relative
    ``last-week``, ``last-Nd``, ``last-Nh`` (see the module docstring).

    Parameters
    ----------
    text : str
        The window, e.g. ``"2026-11-16/2026-11-23"``, ``"2026-11-16/P7D"`` or ``"last-week"``.
    now : datetime, optional
        The moment relative windows are resolved against (naive means UTC). Default:
        ``$MLMON_NOW`` if set (tests only), else the clock.

    Returns
    -------
    tuple of two datetime
        ``(start, end)``, both with ``tzinfo=datetime.timezone.utc``.

    Raises
    ------
    UsageError
        One line naming the window, what is wrong and the forms accepted.

    Examples
    --------
    >>> parse_window("2026-11-16/2026-11-23T06:00:00+02:00")[1].isoformat()
    '2026-11-23T04:00:00+00:00'
    >>> [t.date().isoformat() for t in parse_window("last-week", now=dt.datetime(2026, 11, 25, 9))]
    ['2026-11-16', '2026-11-23']
    >>> parse_window("2026-11-16/P1DT12H")[1].isoformat()
    '2026-11-17T12:00:00+00:00'
    """
    try:
        start, end = _bounds(text, now)
    except ValueError as exc:
        raise UsageError(f"window {_short(text)}: {exc}") from None
    except OverflowError:  # e.g. last-999999d: before year 1
        start = end = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    if start < EARLIEST or end > LATEST:
        raise UsageError(f"window {_short(text)}: dates must lie between {EARLIEST.date()} and {LATEST.date()}")
    return start, end


def format_window(start: dt.datetime, end: dt.datetime) -> str:
    """The canonical ``START/END`` of two instants: dates when both are midnight UTC, else ISO datetimes.

    Examples
    --------
    >>> utc = dt.timezone.utc
    >>> format_window(dt.datetime(2026, 11, 16, tzinfo=utc), dt.datetime(2026, 11, 23, tzinfo=utc))
    '2026-11-16/2026-11-23'
    >>> format_window(dt.datetime(2026, 11, 16, 5, tzinfo=utc), dt.datetime(2026, 11, 16, 6, tzinfo=utc))
    '2026-11-16T05:00:00+00:00/2026-11-16T06:00:00+00:00'
    """
    s, e = start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)
    if all(t.hour == t.minute == t.second == t.microsecond == 0 for t in (s, e)):
        return f"{s.date().isoformat()}/{e.date().isoformat()}"
    return f"{s.isoformat()}/{e.isoformat()}"


def resolve_window(text: str, now: dt.datetime | None = None) -> str:
    """The absolute ``START/END`` a window stands for (a relative one resolved against ``now``).

    A command resolves its window once, so that every notebook of a run, its
    folder and its summary agree even when the run crosses midnight.

    Examples
    --------
    >>> resolve_window("last-7d", now=dt.datetime(2026, 9, 1, 6, 30))
    '2026-08-25/2026-09-01'
    >>> resolve_window("last-6h", now=dt.datetime(2026, 9, 1, 6, 30))
    '2026-09-01T00:00:00+00:00/2026-09-01T06:00:00+00:00'
    """
    return format_window(*parse_window(text, now))


def parse_length(text: str, where: str = "--every") -> dt.timedelta:
    """The length of a repeated window: ``7d``, ``1w``, ``12h`` (as ``chunk``) or an ISO duration ``P7D``.

    Raises
    ------
    UsageError
        Naming ``where`` when it is not a positive length.

    Examples
    --------
    >>> parse_length("7d") == parse_length("P1W") == dt.timedelta(days=7)
    True
    """
    code = str(text).strip().lower()
    match = _LENGTH.fullmatch(code)
    try:
        if match is not None:
            length = dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
            if length <= dt.timedelta(0):
                raise ValueError(f"must be longer than zero, got {text!r}")
            return length
        if _is_duration(code):
            return _duration(str(text))
    except ValueError as exc:
        raise UsageError(f"{where} {text!r}: {exc}") from None
    except OverflowError:
        raise UsageError(f"{where} {text!r}: longer than the {(LATEST - EARLIEST).days} days of any archive") from None
    raise UsageError(f"{where} {text!r}: expected a length like 7d, 1w or 12h (hours, days, weeks) or P7D")


def windows_every(length: dt.timedelta, since: str, until: str | None = None,
                 now: dt.datetime | None = None) -> list[tuple[dt.datetime, dt.datetime]]:
    """The complete windows of ``length`` from ``since`` (aligned at it), in order.

    A window is complete when it ends at or before ``until`` (default: now).

    Raises
    ------
    UsageError
        When ``since`` or ``until`` is not an ISO date or datetime, or ``until`` is not after ``since``.

    Examples
    --------
    >>> spans = windows_every(dt.timedelta(days=7), "2026-09-07", now=dt.datetime(2026, 9, 23))
    >>> [format_window(*s) for s in spans]
    ['2026-09-07/2026-09-14', '2026-09-14/2026-09-21']
    """
    try:
        first = _parse_instant(since, "--since")
        limit = _parse_instant(until, "--until") if until else now_utc(now)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if first < EARLIEST or limit > LATEST:
        raise UsageError(f"--since and --until must lie between {EARLIEST.date()} and {LATEST.date()}")
    if until and limit <= first:
        raise UsageError(f"--until {until} must be after --since {since}")
    count = max(0, (limit - first) // length)
    return [(first + k * length, first + (k + 1) * length) for k in range(count)]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."
