"""Incidents: one problem of one model version, remembered across windows and notebooks.

A run's diagnosis (:mod:`mlmon_nb.diagnosis`) names its causes. An incident
is a cause followed over the windows of a model version:

- it **opens** (``new``) in the first window whose cause reaches ``alert``;
- it stays **ongoing** while later windows still show the cause (at warn or
  alert), **worsening** when its status rises or a subject alerts that had not
  alerted before;
- it **recovers** in the first later window whose notebooks observed the cause
  and no longer see it; the same cause later opens a new incident;
- people act on it (``mlmon ack``, ``mlmon resolve``, a new baseline that
  accepts a new normal); an acknowledged incident does not page until its
  acknowledgement expires, a resolved or accepted one is closed.

Only news pages: a new incident, a worsening one, a reminder of an open one
(``alerts.repeat``), and, when configured, a recovery. Each page is one line
of ``<archive>/alerts.jsonl`` and one webhook message.

Everything here is *derived*: from the archive's run folders (the latest run
of each window that ran the notebooks observing a cause, so re-running one
notebook never hides a full run) and the people's actions, which
``<archive>/incidents.jsonl`` keeps (append-only, with who and when). The same
derivation by ``mlmon index`` re-creates any page line a killed run did not
write. First seen is the onset the evidence states (a drift's ``since``, a
change point's ``at``); when a cause is already present at a window's start,
earlier windows of the archive that showed it at ``warn`` carry it back.
"""

from __future__ import annotations

import datetime as dt
import getpass
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .checks import SEVERITY
from .diagnosis import CAUSES, LABELS, NOTEBOOKS
from .errors import UsageError
from .journal import Journal

INCIDENT_LOG = "incidents.jsonl"
OPEN = ("new", "ongoing", "worsening", "acknowledged")
CLOSED = ("recovered", "resolved", "accepted")
REPEAT = {"never": None, "every_run": dt.timedelta(0), "daily": dt.timedelta(days=1),
          "weekly": dt.timedelta(days=7)}
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,200}$")


@dataclass(frozen=True)
class Policy:
    """What pages: ``repeat`` (reminders of open incidents), ``recovery`` (a page when one recovers),
    ``worsening`` (what makes an open incident worse: ``status`` rising from warn to alert,
    ``subjects``: a subject alerting that had not alerted before)."""

    repeat: str = "never"
    recovery: bool = False
    worsening: tuple[str, ...] = ("status", "subjects")

    @classmethod
    def of(cls, alerts: Any) -> "Policy":
        """The policy a project's ``alerts`` block (:class:`mlmon_nb.config.AlertsConfig`) describes."""
        return cls(repeat=alerts.repeat, recovery=alerts.recovery, worsening=tuple(alerts.worsening))


@dataclass
class Incident:
    """One problem of one model version (built by :func:`derive`)."""

    id: str
    model: str
    version: str
    cause: str
    subjects: list[str]
    status: str
    severity: str
    first_seen: str
    last_seen: str
    opened_in: str
    trajectory: list[dict[str, Any]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    acked_until: str | None = None
    closed: str | None = None
    alerted_subjects: set[str] = field(default_factory=set)
    last_page: str | None = None
    key: int = 0  # which incident a snapshot in a page is of, whatever its final id

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def label(self) -> str:
        return LABELS.get(self.cause, self.cause)

    def sentence(self) -> str:
        subjects = ", ".join(self.subjects[:5]) + (f" and {len(self.subjects) - 5} more" if len(self.subjects) > 5 else "")
        text = f"{self.label}" + (f" in {subjects}" if subjects else "")
        text += f", {self.status} since {self.first_seen[:16].replace('T', ' ')}"
        if self.status == "acknowledged" and self.acked_until:
            by = next((a.get("by") for a in reversed(self.actions) if a.get("action") == "ack"), None)
            text += f" (acknowledged{' by ' + by if by else ''} until {self.acked_until[:10]})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The contract's fields first, then the history."""
        return {"id": self.id, "model": self.model, "version": self.version, "cause": self.cause,
                "subjects": list(self.subjects), "status": self.status, "severity": self.severity,
                "first_seen": self.first_seen, "last_seen": self.last_seen, "opened_in": self.opened_in,
                "acked_until": self.acked_until, "closed": self.closed, "summary": self.sentence(),
                "trajectory": list(self.trajectory), "runs": list(self.runs), "actions": list(self.actions)}


@dataclass(frozen=True)
class Page:
    """One notification: new, worsening, reminder or recovery of an incident, raised by one run."""

    kind: str
    incident: Incident
    run: Mapping[str, Any]

    def record(self) -> dict[str, Any]:
        inc, run = self.incident, self.run
        return {"notification": self.kind, "incident": inc.id, "cause": inc.cause, "subjects": list(inc.subjects),
                "status": inc.severity if self.kind != "recovery" else "ok", "incident_status": inc.status,
                "first_seen": inc.first_seen, "model": inc.model, "version": inc.version,
                "window": dict(run["window"]), "run_id": run["run_id"], "generated_at": run["generated_at"],
                "run": run["href"], "summary": f"{self.kind}: {inc.sentence()}"}

    @property
    def pages(self) -> bool:
        """Whether this notification should wake someone (recoveries only inform)."""
        return self.kind != "recovery"


@dataclass(frozen=True)
class History:
    """Every incident of an archive (or of one model version) and every notification, in order."""

    incidents: tuple[Incident, ...]
    pages: tuple[Page, ...]

    def for_run(self, href: str) -> list[Page]:
        return [p for p in self.pages if p.run["href"] == href]

    def open(self) -> list[Incident]:
        return sorted((i for i in self.incidents if i.is_open),
                      key=lambda i: (-SEVERITY.get(i.severity, 0), i.first_seen))

    def get(self, incident_id: str) -> Incident | None:
        return next((i for i in self.incidents if i.id == incident_id), None)


def _day(moment: str) -> str:
    return moment[:10].replace("-", "")


def _observing(run: Mapping[str, Any], cause: str) -> bool:
    ran = run.get("notebooks") or {}
    return any(ran.get(nb) not in (None, "error", "skipped") for nb in NOTEBOOKS[cause])


def observations(runs: Iterable[Mapping[str, Any]]) -> list[tuple[str, dict[str, Mapping[str, Any]]]]:
    """Every run, in window order (re-runs of a window after its first run), with the causes it observed.

    A run observes a cause when a notebook that can see it ran: a re-run of one notebook
    says nothing about the others' causes, so it never hides what a full run found.
    """
    out = []
    for run in sorted(runs, key=lambda r: (r["window"]["start"], r["generated_at"], r["run_id"])):
        if "causes" not in run:
            continue  # written before diagnoses existed: it says nothing about causes
        out.append((run["window"]["start"], {c: run for c in CAUSES if _observing(run, c)}))
    return out


def read_actions(archive: Path) -> list[dict[str, Any]]:
    """People's actions on incidents, oldest first (damaged lines are skipped)."""
    records = Journal(Path(archive) / INCIDENT_LOG).read().records
    return sorted((r for r in records if r.get("action") in ("ack", "resolve", "accept")),
                  key=lambda r: str(r.get("at", "")))


def derive(runs: Sequence[Mapping[str, Any]], actions: Sequence[Mapping[str, Any]] = (),
           policy: Policy = Policy(), now: str | None = None) -> History:
    """Incidents and notifications from catalogue entries (with ``causes``) and actions.

    ``runs`` may mix model versions; each version is followed on its own. ``now``
    (ISO) ends acknowledgements that expired since the last run; by default the
    last run's time.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["model"], run["version"]), []).append(run)
    incidents: list[Incident] = []
    pages: list[Page] = []
    for (model, version), group in sorted(groups.items()):
        mine = [a for a in actions if a.get("model") in (None, model) and a.get("version") in (None, version)]
        got_incidents, got_pages = _follow(model, version, group, mine, policy, now)
        incidents += got_incidents
        pages += got_pages
    return History(tuple(incidents), tuple(pages))


def _follow(model: str, version: str, runs: Sequence[Mapping[str, Any]], actions: Sequence[Mapping[str, Any]],
            policy: Policy, now: str | None) -> tuple[list[Incident], list[Page]]:
    incidents: list[Incident] = []
    pages: list[Page] = []
    current: dict[str, Incident] = {}
    pending = list(actions)
    seen_warn: dict[str, tuple[str, str]] = {}  # cause -> (since, window start) while it is at warn
    repeat = REPEAT.get(policy.repeat)

    def apply_actions(until: str) -> None:
        while pending and str(pending[0].get("at", "")) <= until:
            _apply(pending.pop(0), incidents, current)

    for start, per_cause in observations(runs):
        for cause in CAUSES:
            run = per_cause.get(cause)
            if run is None:
                continue
            apply_actions(run["generated_at"])
            found = next((c for c in run.get("causes", ()) if c["cause"] == cause and c.get("evidence")), None)
            inc = current.get(cause)
            if inc is not None and not inc.is_open:
                current.pop(cause)
                inc = None
            if inc is not None and inc.status == "acknowledged" and inc.acked_until \
                    and run["generated_at"] >= inc.acked_until:
                inc.status = "ongoing"
                inc.acked_until = None
                if found is not None:
                    pages.append(Page("reminder", _snapshot(inc), run))
                    inc.last_page = run["window"]["end"]
            if found is None:
                seen_warn.pop(cause, None)
                if inc is not None:
                    inc.status, inc.closed = "recovered", run["window"]["start"]
                    inc.trajectory.append({"window": start, "status": "ok", "run": run["href"]})
                    inc.runs.append(run["href"])
                    if policy.recovery:
                        pages.append(Page("recovery", _snapshot(inc), run))
                continue
            status = found["status"]
            since = found.get("since") or run["window"]["start"]
            alerting = set(found.get("subjects", ())) if status == "alert" else set()
            if inc is None:
                if status != "alert":
                    if cause not in seen_warn:
                        seen_warn[cause] = (since, run["window"]["start"])
                    continue
                first = since
                if cause in seen_warn and since <= run["window"]["start"]:
                    first = seen_warn[cause][0]  # present at the window's start: it began earlier
                seen_warn.pop(cause, None)
                inc = Incident(id=f"{model}.{version}.{cause}.{_day(first)}", model=model, version=version,
                               cause=cause, subjects=list(found.get("subjects", ())), status="new",
                               severity=status, first_seen=first, last_seen=run["window"]["end"],
                               opened_in=run["href"], alerted_subjects=set(alerting))
                inc.id = _unique(inc.id, incidents)
                inc.key = len(incidents)
                incidents.append(inc)
                current[cause] = inc
                inc.trajectory.append({"window": start, "status": status, "subjects": list(inc.subjects),
                                       "run": run["href"]})
                inc.runs.append(run["href"])
                pages.append(Page("new", _snapshot(inc), run))
                inc.last_page = run["window"]["end"]
                continue
            worse = ("status" in policy.worsening and SEVERITY[status] > SEVERITY[inc.severity]) or (
                "subjects" in policy.worsening and bool(alerting - inc.alerted_subjects))
            inc.subjects = list(dict.fromkeys([*inc.subjects, *found.get("subjects", ())]))
            inc.severity = status if SEVERITY[status] > SEVERITY[inc.severity] else inc.severity
            inc.alerted_subjects |= alerting
            inc.last_seen = max(inc.last_seen, run["window"]["end"])
            inc.trajectory.append({"window": start, "status": status, "subjects": list(found.get("subjects", ())),
                                   "run": run["href"]})
            inc.runs.append(run["href"])
            acked = inc.status == "acknowledged"
            if worse:
                if not acked:
                    inc.status = "worsening"
                    pages.append(Page("worsening", _snapshot(inc), run))
                    inc.last_page = run["window"]["end"]
                continue
            if not acked:
                inc.status = "ongoing"
                due = repeat is not None and inc.last_page is not None and (
                    dt.datetime.fromisoformat(run["window"]["end"]) - dt.datetime.fromisoformat(inc.last_page)
                    >= max(repeat, dt.timedelta(microseconds=1)) or repeat == dt.timedelta(0))
                if due:
                    pages.append(Page("reminder", _snapshot(inc), run))
                    inc.last_page = run["window"]["end"]
    apply_actions(now or max((r["generated_at"] for r in runs), default=""))
    _stable_ids(incidents, runs)
    final = {inc.key: inc.id for inc in incidents}
    for page in pages:
        page.incident.id = final[page.incident.key]
    if now:
        for inc in incidents:
            if inc.status == "acknowledged" and inc.acked_until and now >= inc.acked_until:
                inc.status, inc.acked_until = "ongoing", None
    return incidents, pages


def _stable_ids(incidents: list[Incident], runs: Sequence[Mapping[str, Any]]) -> None:
    """Name each incident after the window of the first run (by time made) that saw it at alert.

    A run made later for an earlier window (a backfill) moves an incident's first seen back but not
    its name: an id someone paged, acknowledged or wrote in a ticket stays valid.
    """
    made = {r["href"]: r["generated_at"] for r in runs}
    taken: set[str] = set()
    for inc in incidents:
        alerting = [t for t in inc.trajectory if t.get("status") == "alert"] or inc.trajectory
        first = min(alerting, key=lambda t: (made.get(t["run"], ""), t["window"]))
        base = f"{inc.model}.{inc.version}.{inc.cause}.{_day(first['window'])}"
        new, n = base, 1
        while new in taken:
            n += 1
            new = f"{base}-{n}"
        taken.add(new)
        inc.id = new


def _snapshot(inc: Incident) -> Incident:
    return replace(inc, subjects=list(inc.subjects), trajectory=list(inc.trajectory), runs=list(inc.runs),
                   actions=list(inc.actions), alerted_subjects=set(inc.alerted_subjects))


def _unique(candidate: str, incidents: Sequence[Incident]) -> str:
    taken = {i.id for i in incidents}
    out, n = candidate, 1
    while out in taken:
        n += 1
        out = f"{candidate}-{n}"
    return out


def _apply(action: Mapping[str, Any], incidents: list[Incident], current: dict[str, Incident]) -> None:
    kind = action.get("action")
    if kind == "accept":
        for inc in incidents:
            if inc.is_open:
                inc.status, inc.closed, inc.acked_until = "accepted", str(action.get("at")), None
                inc.actions.append(dict(action))
        return
    # the open incident of that cause when the action was taken (at most one per cause and version);
    # its id may have been named differently then, if runs of earlier windows came later
    inc = current.get(action.get("cause")) if action.get("cause") else None
    if inc is None or not inc.is_open:
        inc = next((i for i in incidents if i.id == action.get("incident")), None)
    if inc is None:
        return
    inc.actions.append(dict(action))
    if kind == "ack" and inc.is_open:
        inc.status, inc.acked_until = "acknowledged", action.get("until")
    elif kind == "resolve" and inc.is_open:
        inc.status, inc.closed, inc.acked_until = "resolved", str(action.get("at")), None


# --------------------------------------------------------------------------- people's actions

def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def record_action(archive: Path, action: str, *, incident: Incident | None = None, until: str | None = None,
                  note: str | None = None, model: str | None = None, version: str | None = None,
                  baseline_id: str | None = None) -> dict[str, Any]:
    """Append one action (who: the OS user; when: now) to ``<archive>/incidents.jsonl``."""
    record = {"action": action, "at": _now(), "by": _who()}
    if incident is not None:
        record.update(incident=incident.id, cause=incident.cause, model=incident.model, version=incident.version)
    if model is not None:
        record.update(model=model, version=version)
    for key, value in (("until", until), ("note", note), ("baseline_id", baseline_id)):
        if value:
            record[key] = value
    Journal(Path(archive) / INCIDENT_LOG).append([record])
    return record


def parse_until(text: str) -> str:
    """``--until`` as an ISO datetime (a date means its midnight UTC).

    Raises
    ------
    UsageError
        For anything but an ISO date or datetime in the future.
    """
    from .windows import window_bounds  # noqa: reuse the one instant parser

    try:
        moment = window_bounds(f"{text}/2199-12-31")[0]
    except ValueError as exc:
        raise UsageError(f"--until {text!r}: expected an ISO date or datetime, e.g. 2026-12-15 ({exc})") from None
    if moment <= dt.datetime.now(dt.timezone.utc):
        raise UsageError(f"--until {text!r}: the date has passed; give a date in the future")
    return moment.isoformat()


def check_id(incident_id: str) -> str:
    """An incident id as the CLI accepts it (one line, no path separators)."""
    if not _ID.fullmatch(incident_id or ""):
        raise UsageError(f"incident {incident_id!r}: expected an id such as ctr-ranker.2.covariate_shift.20261005 "
                         f"(see 'mlmon incidents')")
    return incident_id
