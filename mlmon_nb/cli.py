"""The ``mlmon`` command (INTERFACE.md section 2).

Exit codes: 0 done, nothing at or above ``--fail-on`` fired; 1 a check at or
above ``--fail-on`` fired; 2 bad input (one line on stderr, archive
untouched); 3 a notebook failed (its report is archived with status error).

Each command imports what it needs when it runs ("lazy: fast CLI start"): ``mlmon --help``
and input errors then answer without loading pandas, DuckDB, nbconvert or scikit-learn.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import sys
from pathlib import Path

import click

from . import __version__
from .errors import MlmonError, UsageError

EXAMPLES = {
    "demo": "mlmon demo --out mlmon-demo",
    "init": "mlmon init data/reference.parquet --logs data/logs/ --model models/1.skops",
    "check": "mlmon check -p mlmon.yaml -m ctr-ranker -v 2",
    "baseline": "mlmon baseline -p mlmon.yaml -m ctr-ranker -v 2",
    "run": "mlmon run -p mlmon.yaml -m ctr-ranker -v 2 -w 2026-11-09/2026-11-16 -n data_drift",
    "index": "mlmon index -p mlmon.yaml",
    "bundle": "mlmon bundle reports/ctr-ranker/2/2026-11-09_2026-11-16/20261116T060102Z",
    "compare": "mlmon compare reports/ctr-ranker/2/2026-11-02_2026-11-09/20261109T060102Z "
               "reports/ctr-ranker/2/2026-11-09_2026-11-16/20261116T060102Z",
}


def _say(message: str) -> None:
    click.echo(message, err=True)


def _split_names(values: tuple[str, ...]) -> list[str]:
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mlmon")
@click.option("--verbose", is_flag=True, help="Log what the package does (to stderr).")
def main(verbose: bool) -> None:
    """Monitor ML models in production with parameterised notebooks.

    \b
    Typical use:
      mlmon demo                                   # build and run the bundled demo
      mlmon init data/reference.parquet --logs data/logs/ --model models/2.skops   # propose mlmon.yaml
      mlmon check -p mlmon.yaml                    # config, files, columns, model: about a second
      mlmon baseline -p mlmon.yaml -m ctr-ranker -v 2
      mlmon run -p mlmon.yaml -m ctr-ranker -v 2 -w 2026-11-16/2026-11-23
      mlmon index -p mlmon.yaml
      mlmon bundle reports/ctr-ranker/2/2026-11-09_2026-11-16/<RUN_ID>   # one file per run

    Exit codes: 0 ok; 1 a check at or above --fail-on fired; 2 bad input; 3 a notebook failed.
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


project_option = click.option(
    "-p", "--project", "project", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="The project file, e.g. -p mlmon.yaml. Relative paths inside it start at its folder.")
model_option = click.option("-m", "--model", required=True,
                            help="Model name as declared under 'models', e.g. -m ctr-ranker.")
version_option = click.option("-v", "--version", "version", required=True,
                              help="Model version as declared under 'versions', e.g. -v 2.")


MAX_CATCH_UP = 60
"""Most windows one ``mlmon run --every`` call runs: a typo in --since must not start a year of runs."""


@main.command()
@project_option
@model_option
@version_option
@click.option("-w", "--window", default=None,
              help="The window: START/END (ISO dates or datetimes, END excluded; naive times are UTC), "
                   "START/P7D (an ISO duration: PnW, PnD, PTnH), or relative to now: last-week (the last "
                   "complete week, Monday 00:00 UTC to Monday), last-7d, last-24h (ending at today's midnight "
                   "UTC, at the current hour). E.g. -w 2026-11-16/2026-11-23 or -w last-week.")
@click.option("--every", default=None, metavar="LENGTH",
              help="Catch up instead of -w: run each missing window of this length (7d, 1w, 12h) from --since, "
                   "in order, up to the last complete one; windows already archived are skipped. "
                   "E.g. --every 7d --since 2026-09-07.")
@click.option("--since", default=None, metavar="DATE",
              help="With --every: where the first window starts (windows are aligned at it), e.g. --since 2026-09-07.")
@click.option("--until", default=None, metavar="DATE",
              help="With --every: no window ends after this (default: now), e.g. --until 2026-11-16.")
@click.option("-n", "--notebook", "notebooks", multiple=True,
              help="Notebook to run; repeat or comma-separate (-n data_drift,operations). "
                   "Default: every window notebook (data_drift, concept_drift, explainability, "
                   "feedback_loops, operations).")
@click.option("-P", "--param", "params", multiple=True,
              help="Extra notebook parameter KEY=VALUE, passed to the notebooks that declare it, "
                   "e.g. -P cohort='category == \"sports\"'.")
@click.option("--fail-on", type=click.Choice(["alert", "warn", "never"]), default="alert", show_default=True,
              help="Exit 1 when a check at or above this status fires (never: only notebook failures exit non-zero).")
def run(project: Path, model: str, version: str, window: str | None, every: str | None, since: str | None,
        until: str | None, notebooks: tuple[str, ...], params: tuple[str, ...], fail_on: str) -> None:
    """Run the window notebooks and archive their reports.

    Executes each notebook with papermill in a fresh kernel, exports it to a
    self-contained HTML report, writes summary.json and prints the run folder.
    With --every, runs each missing window in turn and prints one line per window;
    the exit code is the worst of its runs.

    \b
    Examples:
      mlmon run -p mlmon.yaml -m ctr-ranker -v 2 -w 2026-11-09/2026-11-16
      mlmon run -p mlmon.yaml -m ctr-ranker -v 2 -w last-week
      mlmon run -p mlmon.yaml -m ctr-ranker -v 2 --every 7d --since 2026-09-07
    """
    from .config import load_project  # lazy: fast CLI start
    from .kernels import KernelPool, ensure_kernel  # lazy: fast CLI start
    from .resources import default_window_notebooks, notebook_path  # lazy: fast CLI start
    from .windows import parse_length, resolve_window, windows_every  # lazy: fast CLI start

    names = _split_names(notebooks)
    _check_window_options(window, every, since, until)
    # The cheap checks first (file, names, window, notebooks): a typo answers in a fraction of a
    # second, before a kernel or pandas is started.
    proj = load_project(project)
    proj.model(model)
    proj.version(model, version)
    # -w is resolved once: every notebook, the run folder and the summary get the dates last-week meant.
    resolved = resolve_window(window) if every is None else ""
    spans = windows_every(parse_length(every), since, until) if every is not None else []
    for name in names:
        notebook_path(name)
    from .preflight import require  # lazy: fast CLI start

    # Every configured column of the reference and the logs, from the files' schemas (no rows read):
    # a missing or mistyped column answers before a kernel starts.
    require(project, model, version, "run")
    if every is not None:
        sys.exit(_catch_up(proj, project, model, version, spans, f"--every {every} --since {since}",
                           names, params, fail_on))
    if resolved != window.strip():
        _say(f"window {window.strip()}: {resolved}")
    # More than one notebook: their kernels are forked from one process that imports once.
    with KernelPool(ensure_kernel(), fork=len(names or default_window_notebooks()) > 1) as kernels:
        outcome = _run_window(kernels, project, model, version, resolved, names, params, fail_on)
    click.echo(str(outcome.run_dir))
    sys.exit(outcome.exit_code)


def _check_window_options(window: str | None, every: str | None, since: str | None, until: str | None) -> None:
    """-w runs one window, --every a series from --since: exactly one of the two."""
    if window is not None and every is not None:
        raise UsageError(f"-w {window} and --every {every} are mutually exclusive: -w runs one window, "
                         "--every catches up a series from --since")
    if window is None and every is None:
        raise UsageError("give -w WINDOW (e.g. -w last-week or -w 2026-08-17/2026-08-24) "
                         "or --every LENGTH --since DATE (e.g. --every 7d --since 2026-08-17)")
    if every is None:
        if since is not None or until is not None:
            raise UsageError("--since and --until go with --every (e.g. --every 7d --since 2026-08-17), not with -w")
    elif since is None:
        raise UsageError(f"--every {every} needs --since DATE: where the first window starts "
                         "(windows are aligned at it), e.g. --since 2026-08-17")


def _run_window(kernels, project: Path, model: str, version: str, window: str, names: list[str],
                params: tuple[str, ...], fail_on: str):
    """Run one window and say what it found; the kernel pool outlives it (``--every`` reuses it)."""
    from .resources import default_window_notebooks  # lazy: fast CLI start

    # The first notebook's kernel boots and imports while the inputs are checked.
    kernels.prestart((names or default_window_notebooks() or ("",))[0])
    from .runner import execute_plan, parse_parameters, prepare_window_run  # lazy: fast CLI start

    plan = prepare_window_run(project, model, version, window, names, parse_parameters(params))
    outcome = execute_plan(plan, fail_on=fail_on, progress=_say, show_progress=sys.stderr.isatty(),
                           kernels=kernels)
    _say(f"status {outcome.summary['status']}: {outcome.summary['verdict']}")
    for page in outcome.pages:
        _say(f"{page.kind}: {page.incident.sentence()} [{page.incident.id}]")
    from .alerts import describe_failure  # lazy: fast CLI start

    for delivery in outcome.deliveries:
        if not delivery.ok:
            _say(f"mlmon: warning: {describe_failure(delivery)}")
    return outcome


def _archived(archive: Path, model: str, version: str, names) -> dict:
    """The windows of a version already archived: ``{(start, end): run folder}``, the newest run of
    each window that holds every notebook of ``names``, none of them failed (``--every`` skips them)."""
    from .catalog import scan  # lazy: fast CLI start

    found: dict = {}
    if not archive.is_dir():
        return found
    for run in scan(archive).runs:  # newest first
        if run["model"] != model or run["version"] != version:
            continue
        if any(run["notebooks"].get(n, "error") == "error" for n in names):  # a notebook missing or failed
            continue
        span = (dt.datetime.fromisoformat(run["window"]["start"]), dt.datetime.fromisoformat(run["window"]["end"]))
        found.setdefault(span, archive / run["folder"])
    return found


def _catch_up(proj, project: Path, model: str, version: str, spans: list, asked: str, names: list[str],
              params: tuple[str, ...], fail_on: str) -> int:
    """``mlmon run --every``: each missing window in order, one stdout line per window; the worst exit code."""
    from .kernels import KernelPool, ensure_kernel  # lazy: fast CLI start
    from .resources import default_window_notebooks  # lazy: fast CLI start
    from .windows import format_window  # lazy: fast CLI start

    if not spans:
        _say(f"{asked}: no complete window yet (nothing to run)")
        return 0
    done = _archived(proj.archive, model, version, names or default_window_notebooks())
    todo = [span for span in spans if span not in done]
    if len(todo) > MAX_CATCH_UP:
        last = format_window(*todo[MAX_CATCH_UP - 1]).split("/")[1]
        raise UsageError(f"{asked}: {len(todo)} windows are missing and one call runs at most {MAX_CATCH_UP}; "
                         f"add --until {last} to run the first {MAX_CATCH_UP}, then call again without it")
    codes: list[int] = []
    with KernelPool(ensure_kernel(), fork=True) as kernels:  # windows after windows: one process imports
        for span in spans:
            text = format_window(*span)
            if span in done:
                click.echo(f"{text} skipped: already archived in {done[span]}")
                continue
            _say(f"window {text} ({len(codes) + 1}/{len(todo)})")
            try:
                outcome = _run_window(kernels, project, model, version, text, names, params, fail_on)
            except MlmonError as exc:
                if codes:  # say which window stopped the series, and that the earlier ones are kept
                    exc.args = (f"window {text}: {exc} (the {len(codes)} run(s) before it are archived; "
                                "once this is fixed, the same command continues here)",)
                raise
            codes.append(outcome.exit_code)
            click.echo(f"{text} ran: status {outcome.summary['status']}, exit {outcome.exit_code}, {outcome.run_dir}")
    _say(f"{asked}: {len(codes)} ran, {len(spans) - len(codes)} skipped (already archived)")
    return 3 if 3 in codes else max(codes, default=0)


@main.command()
@project_option
@model_option
@version_option
@click.option("-w", "--window", default=None,
              help="Fit from this window of the logs (START/END, START/P14D or last-week, as in 'mlmon run -w') "
                   "instead of the reference data, and accept it as the new normal: the version's open "
                   "incidents become 'accepted'.")
def baseline(project: Path, model: str, version: str, window: str | None) -> None:
    """Compute and archive the baseline (healthy state) of a model version.

    Example: mlmon baseline -p mlmon.yaml -m ctr-ranker -v 2
    Accept a new normal: mlmon baseline -p mlmon.yaml -m ctr-ranker -v 2 -w 2026-11-16/2026-11-30
    """
    from .kernels import KernelPool, ensure_kernel  # lazy: fast CLI start
    from .windows import resolve_window  # lazy: fast CLI start

    # Resolved once and before a kernel starts: a typo answers at once, last-week means one week.
    window = resolve_window(window) if window is not None else None
    from .preflight import require  # lazy: fast CLI start
    from .windows import parse_window  # lazy: fast CLI start

    # Columns and the reference minimum before a kernel starts: a user's mistake is exit 2 with
    # nothing archived, not a failed baseline notebook.
    require(project, model, version, "baseline", window=parse_window(window) if window else None)
    with KernelPool(ensure_kernel()) as kernels:
        kernels.prestart("baseline")  # boots and imports while the inputs are checked
        from .runner import execute_baseline, prepare_baseline  # lazy: fast CLI start

        plan = prepare_baseline(project, model, version, window)
        outcome = execute_baseline(plan, progress=_say, show_progress=sys.stderr.isatty(), kernels=kernels)
    click.echo(str(outcome.run_dir))
    sys.exit(outcome.exit_code)


@main.command("init")
@click.argument("reference", type=click.Path(path_type=Path))
@click.option("--logs", type=click.Path(path_type=Path), default=None,
              help="The production logs (a file, glob or folder of parquet/CSV), where the timestamp and "
                   "prediction columns are looked for, e.g. --logs data/logs/.")
@click.option("--model", "model_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The model file (.skops, loaded safely; .joblib/.pkl only with --trusted): its input names "
                   "(feature_names_in_) become the features, its classes the task, e.g. --model models/1.skops.")
@click.option("--trusted", is_flag=True,
              help="Load a pickled model file (.joblib/.pkl), which can run code: only for a file you vouch for; "
                   "the version is written with 'trusted: true'.")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("mlmon.yaml"),
              show_default=True, help="The project file to write; an existing file is never replaced, e.g. -o ctr.yaml.")
def init_command(reference: Path, logs: Path | None, model_file: Path | None, trusted: bool, out: Path) -> None:
    """Propose a commented project file from the reference data (and the logs and the model file).

    Infers the task, timestamp, prediction, target and features, writes one model named after
    the reference file with version "1", checks it like 'mlmon check', and prints what was
    inferred and what to review.

    \b
    Examples:
      mlmon init data/reference.parquet --logs data/logs/ --model models/1.skops
      mlmon init reference.csv -o churn.yaml
    """
    from .onboard import describe_proposal, init  # lazy: fast CLI start

    proposal, written, report = init(reference, out, logs=logs, model=model_file, trusted=trusted,
                                     command=" ".join(["mlmon init", *sys.argv[2:]])[:200])
    click.echo(f"wrote {written}")
    for line in describe_proposal(proposal):
        click.echo(line)
    review = [*proposal.review, *report.warnings, *(str(p) for p in report.problems)]
    if review:
        click.echo(f"review before 'mlmon baseline' ({len(review)}):")
        for item in review:
            click.echo(f"  - {item}")
    click.echo(f"next: mlmon check -p {out}; mlmon baseline -p {out} -m {proposal.name} -v 1")


@main.command()
@project_option
@click.option("-m", "--model", default=None, help="Only this model (default: every model in the file), e.g. -m ctr-ranker.")
@click.option("-v", "--version", "version", default=None, help="Only this version of -m (default: every one), e.g. -v 2.")
def check(project: Path, model: str | None, version: str | None) -> None:
    """Check a project without running anything: config, files, columns, logs, model files, reference size.

    Reads the files' schemas and counts and the logs' time span (well under a second), then, once
    that found nothing, loads each model file and scores a few reference rows (a second or two: it
    imports scikit-learn). No notebook, no kernel, nothing written. Prints one line per problem and
    exits 2, or a short report and exits 0.

    Example: mlmon check -p mlmon.yaml -m ctr-ranker -v 2
    """
    from .onboard import check as check_inputs  # lazy: fast CLI start

    if version is not None and model is None:
        raise UsageError(f"-v {version} needs -m MODEL, e.g. -m ctr-ranker -v {version}")
    report = check_inputs(project, model, version)
    for warning in report.warnings:
        _say(f"mlmon: warning: {warning}")
    for problem in report.problems:
        _say(f"mlmon: error: {problem}")
    if report.problems:
        sys.exit(2)
    click.echo(f"{project}: ok")
    for fact in report.facts:
        click.echo(f"  {fact}")


@main.command()
@project_option
def index(project: Path) -> None:
    """Rebuild the archive's index.html from what is archived and print its path.

    Example: mlmon index -p mlmon.yaml
    """
    from .archive import write_index  # lazy: fast CLI start
    from .config import load_project  # lazy: fast CLI start
    from .incidents import Policy  # lazy: fast CLI start

    proj = load_project(project)
    click.echo(str(write_index(proj.archive, Policy.of(proj.alerts))))


def _history(project: Path, model: str | None = None):
    """The project, the archive's incidents (as of now) and the archive path; exit 2 without an archive."""

    from .archive import locked  # lazy: fast CLI start
    from .catalog import scan  # lazy: fast CLI start
    from .config import load_project  # lazy: fast CLI start
    from .errors import ArchiveError  # lazy: fast CLI start
    from .incidents import Policy, derive, read_actions  # lazy: fast CLI start

    proj = load_project(project)
    if model is not None:
        proj.model(model)
    if not proj.archive.is_dir():
        raise ArchiveError(f"{proj.path.name}: archive {proj.archive} does not exist yet; run 'mlmon run' first")
    with locked(proj.archive):
        runs = [r for r in scan(proj.archive).runs if model is None or r["model"] == model]
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        history = derive(runs, read_actions(proj.archive), Policy.of(proj.alerts), now)
    return proj, history


def _incident(history, incident_id: str):
    from .incidents import check_id  # lazy: fast CLI start

    inc = history.get(check_id(incident_id))
    if inc is None:
        known = ", ".join(i.id for i in history.open()[:8]) or "(no open incident)"
        raise UsageError(f"no incident {incident_id!r} in this archive; open ones: {known} (see 'mlmon incidents')")
    return inc


@main.command()
@project_option
@click.option("-m", "--model", default=None, help="Only this model's incidents.")
@click.option("--all", "show_all", is_flag=True, help="Closed incidents too (recovered, resolved, accepted).")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of {id, cause, subjects, status, first_seen, "
                                                      "last_seen, ...} instead of text.")
def incidents(project: Path, model: str | None, show_all: bool, as_json: bool) -> None:
    """List the current incidents (open ones, worst first).

    Example: mlmon incidents -p mlmon.yaml --json
    """

    _, history = _history(project, model)
    shown = history.open() + ([i for i in history.incidents if not i.is_open] if show_all else [])
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in shown], indent=1))
        return
    if not shown:
        click.echo("No open incident." if not show_all else "No incident.")
    for inc in shown:
        click.echo(f"{inc.id}\t{inc.status}\t{inc.severity}\t{inc.sentence()}")


@main.command()
@project_option
@click.argument("incident_id", metavar="INCIDENT")
@click.option("--until", default=None, help="Silence it until this ISO date or datetime (default: 7 days).")
@click.option("--note", default=None, help="Why, for the next person (e.g. a ticket).")
def ack(project: Path, incident_id: str, until: str | None, note: str | None) -> None:
    """Acknowledge an open incident: known, being handled. It stops paging until --until.

    Example: mlmon ack -p mlmon.yaml ctr-ranker.2.covariate_shift.20261005 --until 2026-12-15 --note JIRA-42
    """

    from .incidents import parse_until, record_action  # lazy: fast CLI start

    moment = parse_until(until) if until else (
        dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=7)).isoformat()
    proj, history = _history(project)
    inc = _incident(history, incident_id)
    if not inc.is_open:
        raise UsageError(f"incident {inc.id} is {inc.status}: only an open incident can be acknowledged")
    record_action(proj.archive, "ack", incident=inc, until=moment, note=note)
    click.echo(f"{inc.id} acknowledged until {moment}")


@main.command()
@project_option
@click.argument("incident_id", metavar="INCIDENT")
@click.option("--note", default=None, help="What was done (e.g. the fix or the ticket).")
def resolve(project: Path, incident_id: str, note: str | None) -> None:
    """Mark an incident resolved (closed); if the problem is seen again, it opens a new one.

    Example: mlmon resolve -p mlmon.yaml ctr-ranker.2.operational_regression.20260928 --note "rolled back"
    """
    from .incidents import record_action  # lazy: fast CLI start

    proj, history = _history(project)
    inc = _incident(history, incident_id)
    if not inc.is_open:
        raise UsageError(f"incident {inc.id} is {inc.status} already")
    record_action(proj.archive, "resolve", incident=inc, note=note)
    click.echo(f"{inc.id} resolved")


@main.command()
@click.argument("run_folder", type=click.Path(path_type=Path), required=False)
@click.option("--incident", "incident_id", default=None, metavar="ID",
              help="Bundle an incident instead: its page and every run of its timeline (needs -p).")
@click.option("-p", "--project", "project", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The project file whose archive holds the incident, e.g. -p mlmon.yaml (with --incident).")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file (default: <model>_<version>_<window>_<run id>.html, or <incident id>.html, "
                   "in the current folder).")
def bundle(run_folder: Path | None, incident_id: str | None, project: Path | None, out: Path | None) -> None:
    """Write one self-contained HTML file holding a whole run or incident (to attach to a postmortem).

    \b
    Examples:
      mlmon bundle reports/ctr-ranker/2/2026-11-09_2026-11-16/20261116T060102Z -o incident-42.html
      mlmon bundle --incident ctr-ranker.2.covariate_shift.20261005 -p mlmon.yaml
    """
    if incident_id is None:
        if run_folder is None:
            raise UsageError("mlmon bundle: give a RUN_FOLDER, or --incident ID -p mlmon.yaml")
        from .bundle import write_bundle  # lazy: fast CLI start

        click.echo(str(write_bundle(run_folder, out)))
        return
    if run_folder is not None:
        raise UsageError(f"mlmon bundle: give a RUN_FOLDER ({run_folder}) or --incident {incident_id!r}, not both")
    if project is None:
        raise UsageError(f"mlmon bundle --incident {incident_id!r}: -p mlmon.yaml is required (the archive to read)")
    from .bundle import write_incident_bundle  # lazy: fast CLI start

    proj, history = _history(project)
    inc = _incident(history, incident_id)
    click.echo(str(write_incident_bundle(proj.archive, inc.to_dict(), out)))


@main.command()
@click.argument("run_a", metavar="RUN_A", type=click.Path(path_type=Path))
@click.argument("run_b", metavar="RUN_B", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), default=None,
              help="Output file (default: compare_<model>_v<A>_<A start>_vs_v<B>_<B start>.html in the current "
                   "folder). An existing file is replaced only if mlmon compare wrote it.")
def compare(run_a: Path, run_b: Path, out: Path | None) -> None:
    """Compare two run folders: what changed from RUN_A (earlier, or champion) to RUN_B.

    One model version on two windows ("this week against last"), or two versions of one
    model on the same window (champion against challenger). Writes one self-contained
    HTML page (verdict, checks that appeared, cleared, worsened, improved, their figures
    side by side, both runs' problems and incidents) and prints its path.

    \b
    Examples:
      mlmon compare reports/ctr-ranker/2/2026-11-02_2026-11-09/<RUN> reports/ctr-ranker/2/2026-11-09_2026-11-16/<RUN>
      mlmon compare reports/ctr-ranker/2/2026-11-09_2026-11-16/<RUN> reports/ctr-ranker/3/2026-11-09_2026-11-16/<RUN> \\
          -o v3-against-v2.html
    """
    from .compare import write_compare  # lazy: fast CLI start

    click.echo(str(write_compare(run_a, run_b, out)))


@main.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("mlmon-demo"),
              show_default=True, help="Folder for the demo project (data, models, mlmon.yaml, reports).")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Multiply the demo's ~20k rows a week, e.g. --scale 0.25 for a quick run.")
@click.option("--weeks", type=int, default=10, show_default=True, help="Weekly windows of logs to simulate and run.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulation.")
@click.option("--exposure", type=click.Choice(["model", "randomised"]), default="model", show_default=True,
              help="'randomised' simulates the control arm without a feedback loop.")
@click.option("-n", "--notebook", "notebooks", multiple=True,
              help="Window notebooks to run (default: all), e.g. -n data_drift.")
def demo(out: Path, scale: float, weeks: int, seed: int, exposure: str, notebooks: tuple[str, ...]) -> None:
    """Build the bundled demo project and run its baselines and every weekly window.

    The demo has two models with injected events described in
    <out>/ground_truth.json: a click-through-rate model for a product feed
    (covariate drift, a preference flip, a latency regression and a feedback
    loop) and a delivery-time regressor (road works, a new far zone). Prints
    the path of the archive's index.html.

    Example: mlmon demo --out mlmon-demo --scale 0.5
    """
    from .demo import run_demo  # lazy: fast CLI start

    index_path = run_demo(out, scale=scale, weeks=weeks, seed=seed, exposure=exposure,
                          notebooks=_split_names(notebooks) or None, progress=_say,
                          show_progress=sys.stderr.isatty())
    click.echo(str(index_path))


def entry() -> None:
    """Console entry point: one clear line and exit 2 for bad input, never a traceback."""
    try:
        _entry()
    finally:
        # Everything left is freed by the exit itself: the interpreter's shutdown would otherwise
        # run full collections over the ~2,000 modules a run imports (0.5-0.7 s after the result
        # is printed). Exit handlers and finalizers still run.
        gc.freeze()


def _entry() -> None:
    try:
        main.main(standalone_mode=False, prog_name="mlmon")
    except MlmonError as exc:
        click.echo(f"mlmon: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        # The kernel was stopped under a running cell: nbclient's orphaned cell task would log a
        # "Kernel died" traceback when it is collected. The run is discarded; one line says so.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        click.echo("mlmon: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        # the command as typed ('mlmon run', or 'mlmon' for the group), never the group function's name
        ctx_cmd = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) and exc.ctx.command else ""
        click.echo(f"mlmon: error: {exc.format_message()}{ctx_cmd}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    entry()
