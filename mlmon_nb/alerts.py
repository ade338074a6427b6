"""Alerts: the archive's append-only alert log and Slack-compatible webhooks.

Only news is sent (:mod:`mlmon_nb.incidents`): a new incident, a worsening one,
a reminder of an open one, a recovery when configured. Each notification is one
JSON line in ``<archive>/alerts.jsonl`` naming its incident and the run that
raised it, and each configured webhook whose ``min_status`` a run's pages reach
receives one message for that run. Delivery is retried with exponential
backoff; a webhook that still fails is reported (and logged in
``<archive>/webhooks.jsonl``) but never changes or loses the run, which was
archived before any delivery was attempted.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .checks import SEVERITY
from .config import Project, WebhookConfig
from .errors import ArchiveError, ConfigError
from .incidents import Page
from .journal import Journal
from .redact import redact_text

logger = logging.getLogger(__name__)

ALERT_LOG = "alerts.jsonl"
DELIVERY_LOG = "webhooks.jsonl"
BACKOFF_SECONDS = 0.5


def _page_key(record: Mapping[str, Any]) -> tuple:
    """What makes a notification line unique: its incident, its kind and the run that raised it."""
    return tuple(str(record.get(k)) for k in ("incident", "notification", "run"))


def unannounced(archive: Path, pages: Sequence[Page]) -> list[Page]:
    """The pages that are news for the log: an incident already announced as new (by a run made
    earlier for a later window, before a backfill moved its start) is not announced again."""
    records = Journal(Path(archive) / ALERT_LOG).read().records
    new_lines = {(r.get("incident"), r.get("run")) for r in records if r.get("notification") == "new"}
    announced = {incident for incident, _ in new_lines}
    return [p for p in pages if p.kind != "new" or p.incident.id not in announced
            or (p.incident.id, p.run["href"]) in new_lines]


def reconcile(archive: Path, pages: Sequence[Page]) -> int:
    """Make ``<archive>/alerts.jsonl`` hold one line per notification (idempotent); return how many were added.

    ``pages`` are every notification the archive's runs raised (:func:`mlmon_nb.incidents.derive`):
    a run killed after its folder was committed, or a line cut by a full disk, loses nothing.
    """
    log = Journal(Path(archive) / ALERT_LOG)
    added = log.ensure(_page_key, [p.record() for p in unannounced(archive, pages)])
    if added:
        logger.info("alert log: %d notification line(s) written", added)
    return added


def slack_payload(summary: Mapping[str, Any], pages: Sequence[Page], run_dir: Path) -> dict[str, Any]:
    """A Slack-compatible message (``text`` plus blocks) for the notifications of one run."""
    worst = max((SEVERITY.get(p.record()["status"], 0) for p in pages), default=0)
    status = next(s for s, v in SEVERITY.items() if v == worst and s != "skipped").upper()
    window = f"{summary['window']['start'][:16]} → {summary['window']['end'][:16]}"
    head = f"[{status}] {summary['model']} v{summary['version']} {window}"
    lines = [f"• {p.kind}: {p.incident.sentence()} (`{p.incident.id}`)" for p in pages[:10]]
    if len(pages) > 10:
        lines.append(f"… and {len(pages) - 10} more")
    text = f"{head}: " + "; ".join(f"{p.kind} {p.incident.label.lower()}" for p in pages)
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{head}*\n{summary.get('verdict', '')}"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"run `{summary['run_id']}` · report: "
                                                                         f"{run_dir / 'index.html'}"}]},
        ],
    }


@dataclass(frozen=True)
class Delivery:
    """The outcome of one webhook delivery (``url`` is the redacted form)."""

    url: str
    ok: bool
    attempts: int
    detail: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers, not instructions: a 3xx is reported, never followed as a GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 (urllib's hook)
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def _request(url: str, body: bytes) -> urllib.request.Request:
    """A POST to ``url``; credentials in the URL (``user:password@``) become a Basic header."""
    parts = urllib.parse.urlsplit(url)
    headers = {"Content-Type": "application/json", "User-Agent": "mlmon-nb"}
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        url = urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return urllib.request.Request(url, data=body, method="POST", headers=headers)


def _attempt(url: str, body: bytes, timeout: float) -> tuple[str, int | None, str]:
    """One POST within a *total* time limit: ("ok"|"http"|"net", status, detail).

    urllib's timeout applies to each socket operation, so an endpoint answering one byte at
    a time would hold a run for ever; the request runs on a daemon thread that is abandoned
    (and its socket with it) when the limit passes.
    """
    box: dict[str, Any] = {}

    def go() -> None:
        try:
            with _OPENER.open(_request(url, body), timeout=timeout) as resp:  # noqa: S310 (http(s) only, checked in config)
                resp.read(65536)
                box["out"] = ("ok", resp.status, f"HTTP {resp.status}")
        except urllib.error.HTTPError as exc:
            note = " (redirects are not followed)" if 300 <= exc.code < 400 else ""
            box["out"] = ("http", exc.code, f"HTTP {exc.code} {exc.reason}{note}")
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            box["out"] = ("net", None, f"{type(reason).__name__}: {reason}")

    thread = threading.Thread(target=go, name="mlmon-webhook", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return "net", None, f"no complete answer within {timeout:g} s"
    return box["out"]


def post(hook: WebhookConfig, payload: Mapping[str, Any],
         sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """POST a JSON payload, retrying connection errors, timeouts, 429 and 5xx with backoff.

    Each attempt has ``timeout_seconds`` in total; a redirect is reported as a failure.
    Every detail that reaches a log is redacted (the URL is a secret).
    """
    body = json.dumps(payload).encode()
    shown = hook.shown
    try:
        url = hook.resolve()
    except ConfigError as exc:
        return Delivery(shown, False, 0, str(exc))
    detail = ""
    for attempt in range(1, hook.retries + 2):
        kind, code, detail = _attempt(url, body, hook.timeout_seconds)
        detail = redact_text(detail, [url])
        if kind == "ok" and code is not None and 200 <= code < 300:
            return Delivery(shown, True, attempt, detail)
        if kind == "http" and code is not None and code < 500 and code != 429:
            return Delivery(shown, False, attempt, detail)  # the request itself is wrong: no retry
        if attempt <= hook.retries:
            sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    return Delivery(shown, False, hook.retries + 1, detail)


def notify(project: Project, summary: Mapping[str, Any], pages: Sequence[Page], run_dir: Path,
           sleep: Callable[[float], None] = time.sleep) -> list[Delivery]:
    """Log a run's notifications and deliver them to the webhooks; never raises for a failure.

    A log line that cannot be written (a full disk) is re-derived by the next run or
    ``mlmon index``; the webhooks are still tried. A webhook receives the run's pages
    when one of them reaches its ``min_status``; recoveries alone page nobody.
    """
    try:
        reconcile(project.archive, pages)
    except ArchiveError as exc:
        logger.warning("alert log not updated (the next run or 'mlmon index' re-derives it): %s", exc)
    deliveries = []
    paging = [p for p in pages if p.pages]
    for hook in project.alerts.webhooks:
        if not any(SEVERITY.get(p.record()["status"], 0) >= SEVERITY[hook.min_status] for p in paging):
            continue
        delivery = post(hook, slack_payload(summary, pages, run_dir), sleep=sleep)
        deliveries.append(delivery)
        try:
            Journal(project.archive / DELIVERY_LOG).append([{
                "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "url": delivery.url,
                "run_id": summary["run_id"], "model": summary["model"], "version": summary["version"],
                "incidents": sorted({p.incident.id for p in pages}),
                "ok": delivery.ok, "attempts": delivery.attempts, "detail": delivery.detail}])
        except ArchiveError as exc:  # the delivery happened; only its log line is lost
            logger.warning("%s", exc)
        if not delivery.ok:
            logger.warning("webhook %s failed after %d attempt(s): %s", delivery.url, delivery.attempts,
                           delivery.detail)
    return deliveries


def describe_failure(delivery: Delivery) -> str:
    """One line for the CLI about a failed delivery."""
    return (f"webhook {delivery.url} failed after {delivery.attempts} attempt(s): {delivery.detail}; "
            f"the run is archived and unchanged")
