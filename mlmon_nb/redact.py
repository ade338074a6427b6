"""Secrets kept out of reports, notebooks and logs: URLs shown without their credentials.

A webhook URL usually *is* a secret (Slack and Teams put the token in the path,
others in the query string or in ``user:password@``). Wherever one is shown,
logged or archived, only its scheme, host and port remain.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: no user info, path, query or fragment.

    Examples
    --------
    >>> redact_url("https://user:PASS@hooks.example:8443/services/T0/B1/XYZ?token=abc#x")
    'https://hooks.example:8443/…'
    >>> redact_url("http://hooks.example")
    'http://hooks.example'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "(an invalid URL)"
    shown = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        shown += "/…"
    return shown


def redact_text(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """``text`` with every secret URL (and its path, query and user info) replaced by its redacted form.

    Examples
    --------
    >>> redact_text("POST https://h.example/T/B/XYZ?token=abc failed", ["https://h.example/T/B/XYZ?token=abc"])
    'POST https://h.example/… failed'
    """
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, redact_url(secret))
        parts = urlsplit(secret)
        for piece in (parts.path if parts.path not in ("", "/") else "", parts.query, parts.password or ""):
            if piece and len(piece) >= 6:
                text = text.replace(piece, "…")
    return text
