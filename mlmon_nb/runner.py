"""Headless runs: papermill execution, nbconvert export, archiving.

A run goes through three stages:

1. *Preflight* (:func:`prepare_window_run`): load the project, the model
   version and the window's row counts. Every user mistake is raised here as
   an :class:`~mlmon_nb.errors.MlmonError`, before anything touches the archive.
2. *Execution* in a staging folder: each notebook runs in a fresh kernel with
   papermill, writes its checks through :class:`~mlmon_nb.checks.Recorder`,
   and is exported to HTML with the ``mlmon`` nbconvert template. A failing
   notebook still leaves its executed ``.ipynb`` and an HTML report with the
   failing cell and its traceback.
3. *Commit*: ``summary.json`` is validated against the shipped JSON Schema,
   the window's index.html written, and the folder renamed into place.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import json
import logging
import os
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import nbformat

from . import __version__, archive, parameters, progress
from .checks import SCHEMA, SEVERITY, read_notebook_result, run_verdict, validate_summary
from .catalog import entry_of, scan
from .compare import write_previous
from .diagnosis import diagnose, notebook_status, status_of
from .alerts import unannounced
from .incidents import History, Page, Policy, derive, read_actions, record_action
from .config import ModelConfig, Project, VersionConfig, load_project
from .windows import format_window, parse_window
from .data import combine_fingerprints, model_features, reference_stats, window_stats
from .sources import connect
from .errors import ArchiveError, UsageError
from .kernels import KernelPool, ensure_kernel, register_engine, shutdown
from .models import VerifiedFile, model_file_fingerprint, verify_model_file
from .provenance import package_versions
from .resources import default_window_notebooks, notebook_path

logger = logging.getLogger(__name__)

#: Parameters every notebook takes; the runner sets them.
RUN_PARAMETERS = ("project", "model", "version", "window", "run_id", "output", "work_dir")
CELL_TIMEOUT_SECONDS = 3600

Progress = Callable[[str], None]


@dataclass
class RunPlan:
    """Everything a run needs, checked before the archive is touched."""

    project: Project
    model: ModelConfig
    version: VersionConfig
    start: dt.datetime
    end: dt.datetime
    notebooks: tuple[str, ...]
    parameters: dict[str, dict[str, Any]]
    data: dict[str, Any]
    baseline_id: str | None = None
    kind: str = "window"
    model_file: VerifiedFile | None = None  # kept in the archive once the run is under way


@dataclass
class NotebookOutcome:
    name: str
    status: str
    seconds: float
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class RunOutcome:
    """A finished run: where it is archived, what it found, the exit code."""

    run_dir: Path
    summary: dict[str, Any]
    exit_code: int
    deliveries: list = field(default_factory=list)
    pages: list = field(default_factory=list)


def parse_parameters(pairs: Sequence[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` pairs; values are YAML scalars (numbers, booleans) or strings."""
    import yaml  # PyYAML only when parameters are parsed

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"parameter {pair!r}: expected KEY=VALUE with KEY a Python identifier")
        if key in RUN_PARAMETERS:
            raise UsageError(f"parameter {key!r} is set by mlmon run itself; use the matching option")
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value
        out[key] = parsed if isinstance(parsed, (int, float, bool, str)) or parsed is None else value
    return out


def _notebook_parameters(name: str) -> dict[str, dict[str, Any]]:
    import papermill  # lazy: papermill only when a run is prepared

    return dict(papermill.inspect_notebook(str(notebook_path(name))))


def _split_parameters(names: Sequence[str], extra: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each notebook's share of the ``-P`` values, checked against its declared types and ranges."""
    declared = {n: _notebook_parameters(n) for n in names}
    for key in extra:
        if not any(key in d for d in declared.values()):
            known = sorted(set().union(*declared.values()) - set(RUN_PARAMETERS))
            raise UsageError(f"parameter {key!r} is not a parameter of {', '.join(names)}; "
                             f"known: {', '.join(known) or '(none)'}")
    return {n: parameters.check(n, {k: v for k, v in extra.items() if k in declared[n]}, declared[n])
            for n in names}


def prepare_window_run(project_path: str | Path, model: str, version: str, window: str,
                       notebooks: Sequence[str] | None = None,
                       parameters: Mapping[str, Any] | None = None) -> RunPlan:
    """Validate a window run without writing anything (a model file that loaded is recorded in the
    archive when the run starts: :func:`~mlmon_nb.models.verify_model_file`).

    Raises
    ------
    MlmonError
        Any bad input: config, model, version, window, data, notebook names.
    """
    project = load_project(project_path)
    for hook in project.alerts.webhooks:
        hook.resolve()  # a url_env that is not set fails now (exit 2), not after the run
    archive.check_writable(project.archive, f"{project.path.name}: archive")
    mcfg = project.model(model)
    vcfg = project.version(model, version)
    start, end = parse_window(window)
    days = (end - start).total_seconds() / 86400
    if days > project.max_window_days:
        raise UsageError(f"window {window}: {days:g} days is longer than the {project.max_window_days} days "
                         f"allowed (max_window_days in {project.path.name}); run shorter windows")
    names = tuple(dict.fromkeys(notebooks)) if notebooks else default_window_notebooks()
    for n in names:
        notebook_path(n)
        if n == "baseline":
            raise UsageError("notebook 'baseline' is run by 'mlmon baseline', not 'mlmon run'")
    params = _split_parameters(names, parameters or {})
    _check_thresholds(project, mcfg)
    model_fp, verified = [], None
    if vcfg.model is not None:
        # Loading checks the file can score (once per file content: see verify_model_file); hashing
        # it is enough for the fingerprint when no selected notebook uses it.
        if needs_model_file(names, mcfg.task):
            verified = verify_model_file(mcfg, vcfg, project.archive)
            model_fp.append(verified.fingerprint)
        else:
            model_fp.append(model_file_fingerprint(mcfg, vcfg))
    con = connect()
    stats = window_stats(mcfg, start, end, version=version if mcfg.version_column else None, con=con)
    from .baseline import baseline_root, latest_baseline_id, verify_baseline  # lazy: pandas

    ref_rows, ref_fp = reference_stats(project, mcfg, con=con)
    data = {
        "reference_rows": ref_rows,
        "current_rows": stats.rows,
        "labelled_rows": stats.labelled_rows,
        "fingerprint": combine_fingerprints(stats.fingerprint, ref_fp, *model_fp),
    }
    baseline_id = latest_baseline_id(project, model, version)
    if baseline_id is None:
        raise ArchiveError(f"{project.archive}: no baseline for model {model!r} version {version!r}; run "
                           f"'mlmon baseline -p {project.path} -m {model} -v {version}' first")
    verify_baseline(baseline_root(project, model, version) / baseline_id)
    return RunPlan(project=project, model=mcfg, version=vcfg, start=start, end=end, notebooks=names,
                   parameters=params, data=data, baseline_id=baseline_id, model_file=verified)


#: Shipped notebooks that work from the logged prediction column (which every window must have)
#: and use the model file only for multiclass probabilities: a run of only these does not load it.
LOGGED_SCORE_NOTEBOOKS = frozenset({"data_drift", "concept_drift", "feedback_loops", "operations"})


def needs_model_file(notebooks: Sequence[str], task: str) -> bool:
    """Whether a run of ``notebooks`` scores rows with the version's model file (then the
    preflight loads it, so a broken file is exit 2 rather than a failed notebook)."""
    return task == "multiclass_classification" or any(n not in LOGGED_SCORE_NOTEBOOKS for n in notebooks)


def _check_thresholds(project: Project, mcfg: ModelConfig) -> None:
    """Feature names under ``thresholds.features`` are monitored (the config checked every other name).

    Exit 2 now, not a failed notebook later.
    """
    if not mcfg.thresholds.features:
        return
    feats = model_features(mcfg)
    monitored = [*feats.numeric, *feats.categorical, mcfg.prediction, mcfg.target]
    mcfg.thresholds.check_features(monitored, where=f"{project.path.name}: models.{mcfg.name}.thresholds")


def _error_notebook(src: Path, message: str) -> nbformat.NotebookNode:
    nb = nbformat.read(str(src), as_version=4)
    cell = nbformat.v4.new_code_cell(source="# the notebook could not be executed")
    cell.outputs = [nbformat.v4.new_output("error", ename="RunError", evalue=message, traceback=[message])]
    nb.cells.insert(0, cell)
    return nb


def execute_notebook(name: str, out_ipynb: Path, parameters: Mapping[str, Any],
                     show_progress: bool = False, km=None, rows: int | None = None) -> tuple[bool, str | None]:
    """Run one notebook with papermill in a fresh kernel.

    ``km`` is a kernel started for this notebook by a
    :class:`~mlmon_nb.kernels.KernelPool` (warm: its imports done); without
    it papermill starts the kernel. Either way the kernel is shut down after.

    Papermill's ``cwd`` option changes the process's working folder, which is
    not safe while other runs execute in threads, so it is not used: notebooks
    receive absolute paths and write only to ``work_dir``.

    Returns
    -------
    (bool, str or None)
        Whether it ran to the end, and the error (``ename: evalue``) if not.
        The executed notebook is written to ``out_ipynb`` either way.
    """
    import papermill  # papermill only when a notebook runs
    from papermill.exceptions import PapermillExecutionError  # papermill only when a notebook runs

    src = notebook_path(name)
    kernel = ensure_kernel()
    try:
        papermill.execute_notebook(
            str(src), str(out_ipynb), parameters=dict(parameters), kernel_name=kernel,
            progress_bar=show_progress, log_output=False,
            execution_timeout=CELL_TIMEOUT_SECONDS, report_mode=False, engine_name=register_engine(), km=km,
        )
        return True, None
    except PapermillExecutionError as exc:
        return False, f"{exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel death, timeouts, nbclient errors: the run reports them
        logger.info("notebook %s failed outside a cell", name, exc_info=True)
        message = f"{type(exc).__name__}: {exc}"
        if type(exc).__name__ == "DeadKernelError":
            message = dead_kernel_message(name, km, rows)
        if not out_ipynb.exists():
            nbformat.write(_error_notebook(src, message), str(out_ipynb))
        return False, message
    finally:
        if km is not None:
            shutdown(km)


def dead_kernel_message(name: str, km, rows: int | None) -> str:
    """One line for a kernel that died: killed by the system (memory) or crashed."""
    code = None
    try:
        code = km.provisioner.process.poll() if km is not None else None
    except AttributeError:
        pass
    size = f"the window has {rows:,} rows; " if rows else ""
    if code in (-9, 137) or code is None:
        return (f"the {name} kernel was killed, most likely out of memory ({size}the machine has "
                f"{_memory_gib():.0f} GiB): run a shorter window (-w) or fewer notebooks at once")
    return f"the {name} kernel died (exit code {code}); {size}its report shows the last cell that ran"


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return float("nan")


def _title(nb: nbformat.NotebookNode, name: str) -> str:
    meta_title = nb.metadata.get("mlmon", {}).get("title")
    if meta_title:
        return str(meta_title)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return name.replace("_", " ").capitalize()


def export_report(out_ipynb: Path, out_html: Path, meta: Mapping[str, Any]) -> None:
    """Export an executed notebook to a self-contained HTML report."""
    from .report import export_notebook_html  # lazy: nbconvert and jinja2 only when a report is exported

    nb = nbformat.read(str(out_ipynb), as_version=4)
    meta = dict(meta)
    meta.setdefault("title", _title(nb, meta.get("notebook", "")))
    nb.metadata["mlmon"] = json.loads(json.dumps(meta, default=str))
    nbformat.write(nb, str(out_ipynb))
    out_html.write_text(export_notebook_html(nb, meta), encoding="utf-8")


def _findings(result: Mapping[str, Any]) -> list[str]:
    items = sorted(result.get("findings", []), key=lambda f: -SEVERITY.get(f.get("status", "ok"), 0))
    return [f.get("text", "") for f in items]


def notebook_status_of(result: Mapping[str, Any]) -> str:
    """A finished notebook's status: ``skipped`` when it could do nothing (no check, and it said
    why), else the worst of its checks that no cause explains."""
    checks = result.get("checks", [])
    if not checks and result.get("missing"):
        return "skipped"
    return notebook_status(checks)


def _notebook_verdict(outcome: NotebookOutcome) -> str:
    if outcome.status == "error":
        return f"The notebook failed: {outcome.error}. Its report shows the failing cell."
    if outcome.status == "skipped":
        return "Skipped: " + " ".join(outcome.result.get("missing", []))
    return outcome.result.get("verdict") or (
        f"{len(outcome.result.get('checks', []))} checks recorded; worst status {outcome.status}.")


def _window_param(start: dt.datetime, end: dt.datetime) -> str:
    return f"{start.isoformat()}/{end.isoformat()}"


def execute_plan(plan: RunPlan, fail_on: str = "alert", progress: Progress | None = None,
                 show_progress: bool = False, now: dt.datetime | None = None,
                 kernels: KernelPool | None = None) -> RunOutcome:
    """Execute a prepared run in a staging folder and archive it atomically.

    ``kernels`` may hold a kernel already warming up for the first notebook
    (the CLI starts it before its preflight); the pool is closed at the end.
    """
    say = progress or (lambda msg: None)
    generated_at = (now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    parent = plan.project.archive / plan.model.name / plan.version.name / archive.window_slug(plan.start, plan.end)
    run_id = archive.reserve_run_id(parent, archive.new_run_id(generated_at))
    staging = None
    try:
        staging = archive.stage(plan.project.archive)
        if plan.model_file is not None:
            plan.model_file.keep(plan.project.archive)
        outcomes = _execute_all(plan, staging, run_id, generated_at, say, show_progress, kernels)
        _join_warm_up()  # the bookkeeping below imports what the warm-up thread may still be importing
        summary = _summary(plan, run_id, generated_at, outcomes)
        _look_back(plan, summary)
        policy = Policy.of(plan.project.alerts)
        with archive.locked(plan.project.archive):  # incidents see every committed run, this one last
            folder = (parent / run_id).relative_to(plan.project.archive).as_posix()
            entry = entry_of(summary, folder)
            history = derive([*scan(plan.project.archive).runs, entry], read_actions(plan.project.archive), policy)
            pages = unannounced(plan.project.archive, history.for_run(entry["href"]))
            summary["incidents"] = _run_incidents(history, entry["href"], pages)
            _date_causes(summary)
            summary["verdict"] = run_verdict(summary["status"], {n: nb["status"] for n, nb in summary["notebooks"].items()},
                                             summary["checks"], diagnose(summary["checks"]), summary["incidents"])
            validate_summary(summary, "summary.json (about to be written)")
            (staging / "summary.json").write_text(json.dumps(summary, indent=2))
            from .report import render_run_index  # lazy: jinja2 and the templates

            reports = {o.name: f"{o.name}.html" for o in outcomes}
            previous = write_previous(plan.project.archive, staging, summary, parent / run_id)  # never fails the run
            (staging / "index.html").write_text(render_run_index(summary, reports, previous), encoding="utf-8")
            run_dir = archive.commit(staging, parent, run_id)
            try:
                archive.update(plan.project.archive, policy)
            except (OSError, ArchiveError) as exc:  # the run is archived; its derived files heal next time
                logger.warning("run archived in %s, but the index and alert log were not updated: %s", run_dir, exc)
                say(f"warning: the archive index and alert log were not updated ({exc}); "
                    f"'mlmon index' repairs them")
    except BaseException as exc:
        if staging is not None:
            archive.discard(staging)
        archive.release_run_id(parent, run_id)
        if isinstance(exc, Exception) and archive.disk_full(plan.project.archive):
            raise ArchiveError(f"{plan.project.archive}: the disk filled up while the run's reports were "
                               f"written; nothing was archived. Free some space and run again") from exc
        raise
    from .alerts import notify  # lazy: urllib and threads only after a run

    deliveries = notify(plan.project, summary, pages, run_dir)
    return RunOutcome(run_dir=run_dir, summary=summary, exit_code=exit_code(summary, pages, fail_on),
                      deliveries=deliveries, pages=pages)


def _look_back(plan: RunPlan, summary: dict[str, Any]) -> None:
    """Date a covariate shift present at the window's start when no earlier run can (see :mod:`mlmon_nb.onset`)."""
    start = plan.start.isoformat()
    shifts = [c for c in summary["causes"] if c["cause"] == "covariate_shift" and c["status"] == "alert"
              and (c.get("since") or start) <= start]
    if not shifts:
        return
    earlier = [r for r in scan(plan.project.archive).runs if r["model"] == plan.model.name
               and r["version"] == plan.version.name and r["window"]["start"] < start and "causes" in r]
    if earlier:
        return  # the archive's own runs date it (mlmon_nb.incidents)
    from .baseline import load_baseline  # lazy: pandas
    from .onset import onset  # lazy: DuckDB

    base = load_baseline(plan.project, plan.model.name, plan.version.name, plan.baseline_id)
    for cause in shifts:
        features = [s for s in cause["subjects"] if s in base.manifest["profiles"]]
        began = onset(plan.model, base, features, plan.start) if features else None
        if began:
            shown = f"since {(cause.get('since') or start)[:16].replace('T', ' ')}"
            cause["summary"] = cause["summary"].replace(
                shown, f"since {began[:10]} (dated from the logs before the window)", 1)
            cause["since"] = began
            cause["since_from"] = "daily look-back over the logs before the window"


def _date_causes(summary: dict[str, Any]) -> None:
    """A cause that belongs to an incident is dated by it: an ongoing shift is never "since this window"."""
    by_cause = {i["cause"]: i for i in summary["incidents"] if i["status"] not in ("recovered",)}
    start = summary["window"]["start"]
    for cause in summary["causes"]:
        inc = by_cause.get(cause["cause"])
        if inc is None:
            continue
        cause["incident"] = inc["id"]
        old = cause.get("since") or start
        if inc["first_seen"] < old:
            cause["summary"] = cause["summary"].replace(
                f"since {old[:16].replace('T', ' ')}", f"since {inc['first_seen'][:16].replace('T', ' ')} "
                f"(incident {inc['id']}, {inc['status']})", 1)


def _run_incidents(history: History, href: str, pages: Sequence[Page]) -> list[dict[str, Any]]:
    """The incidents this run observed, as of this run, with the notification it raised for each."""
    kinds = {p.incident.id: p.kind for p in pages}
    out = []
    for inc in history.incidents:
        if href not in inc.runs:
            continue
        at = inc.runs.index(href)
        status = inc.status if inc.runs[-1] == href else ("recovered" if inc.trajectory[at]["status"] == "ok"
                                                          else "ongoing")
        ack = next((a for a in reversed(inc.actions) if a.get("action") == "ack"), None)
        out.append({"id": inc.id, "cause": inc.cause, "subjects": list(inc.subjects), "status": status,
                    "severity": inc.severity, "first_seen": inc.first_seen, "last_seen": inc.last_seen,
                    "summary": inc.sentence(), "notification": kinds.get(inc.id),
                    **({"acked_until": inc.acked_until, "acked_by": ack.get("by"), "ack_note": ack.get("note")}
                       if status == "acknowledged" and ack else {})})
    return out


def exit_code(summary: Mapping[str, Any], pages: Sequence[Page], fail_on: str) -> int:
    """3 when a notebook failed; 1 when the run raised news at or above ``--fail-on``; else 0.

    News is a new, worsening or reminded incident (:mod:`mlmon_nb.incidents`). An ongoing,
    acknowledged or accepted incident does not fail a run; with ``--fail-on warn`` a cause
    at warn that no incident covers does.
    """
    if summary["status"] == "error":
        return 3
    if fail_on == "never":
        return 0
    if any(p.pages and SEVERITY[p.incident.severity] >= SEVERITY[fail_on] for p in pages):
        return 1
    if fail_on == "warn":
        covered = {i["cause"] for i in summary.get("incidents", ())}
        if any(c["status"] == "warn" and c["cause"] not in covered for c in summary.get("causes", ())):
            return 1
    return 0


def _kernel_then_warm_up() -> str:
    """The kernel's name (:func:`ensure_kernel`), then the report export warmed up in a thread.

    The Jupyter machinery (jupyter_client, nbclient, nbformat, papermill) is imported here, in
    the calling thread, before the warm-up thread imports nbconvert, which shares most of it:
    two threads importing the same half-initialised package can fail with an ImportError.
    """
    with _JUPYTER_IMPORTS:  # runs in threads (mlmon demo, backfills) import it once, one at a time
        import papermill  # noqa: F401  (lazy: a run's notebooks need it next; imported before the thread)
        from .report import warm_up  # lazy: nbconvert and jinja2 only when a report is exported

        kernel = ensure_kernel()
        register_engine()
        if not _WARMED.is_set():
            _WARMED.set()
            thread = threading.Thread(target=_warm_up, args=(warm_up,), name="mlmon-warm-up", daemon=True)
            _WARM_THREADS.append(thread)
            thread.start()
    return kernel


def _warm_up(report_warm_up: Callable[[], None]) -> None:
    """While the notebooks run (the command only waits then): the report export's modules and
    templates, then the modules the end of a run imports (:func:`_look_back`'s statistics import
    scipy.stats: 1.5 s of a 1M-row data_drift run's 11 s when it came after the notebooks), and
    then freezes what is imported."""
    report_warm_up()
    for name in ("mlmon_nb.baseline", "mlmon_nb.onset"):
        try:
            importlib.import_module(name)
        except ImportError as exc:  # the look-back will report any real problem itself
            logger.debug("warm-up of %s failed: %s", name, exc)
    # What the command has imported by now lives as long as it does: in the collector's permanent
    # generation, the full collections of the export and bookkeeping no longer walk it.
    gc.freeze()


def _join_warm_up() -> None:
    """Wait for the warm-up thread (at most once it matters: before the run's bookkeeping imports)."""
    for thread in list(_WARM_THREADS):
        if thread is not threading.current_thread():
            thread.join()


_JUPYTER_IMPORTS = threading.Lock()
_WARMED = threading.Event()  # one warm-up per process: the export's modules stay imported
_WARM_THREADS: list[threading.Thread] = []


def _execute_all(plan: RunPlan, staging: Path, run_id: str, generated_at: dt.datetime,
                 say: Progress, show_progress: bool, kernels: KernelPool | None = None) -> list[NotebookOutcome]:
    # The command waits while notebooks run: prepare the HTML export meanwhile.
    kernel = _kernel_then_warm_up()
    pool = kernels or KernelPool(kernel, fork=len(plan.notebooks) > 1)
    with pool:
        return _execute_each(plan, staging, run_id, generated_at, say, show_progress, pool)


#: A long pass prints a progress line when it has advanced this share of its rows since the last one ...
PROGRESS_EVERY_SHARE = 0.10
#: ... or when this many seconds have passed (the kernel writes once a second).
PROGRESS_EVERY_SECONDS = 60.0


@contextmanager
def _scan_progress(work: Path, notebook: str, say: Progress):
    """Print the kernel's scan progress (:mod:`mlmon_nb.progress`) while a notebook runs.

    A line when a pass starts, after each :data:`PROGRESS_EVERY_SHARE` of its rows or
    :data:`PROGRESS_EVERY_SECONDS` while it runs, and when it ends (a ten-minute pass prints about
    ten lines); the progress file is removed afterwards, so it is never archived.
    """
    path = progress.path_of(work, notebook)
    stop = threading.Event()

    def watch() -> None:
        shown: dict[str, tuple[float, float]] = {}  # label -> (when, share) of its last line
        last = None
        while not stop.wait(progress.POLL_SECONDS):
            state = progress.read(path)
            if state is None or state == last:
                continue
            last = state
            label, now = str(state["label"]), time.monotonic()
            share = state["done"] / state["total"] if state["total"] else 1.0
            when, before = shown.get(label, (None, 0.0))
            if when is None or share >= 1.0 or share - before >= PROGRESS_EVERY_SHARE \
                    or now - when >= PROGRESS_EVERY_SECONDS:
                say(progress.line(state))
                logger.info("%s: %s", notebook, progress.line(state))
                shown[label] = (now, share)

    thread = threading.Thread(target=watch, name="mlmon-progress-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=progress.POLL_SECONDS + 1.0)
        shutil.rmtree(path.parent, ignore_errors=True)


def _execute_each(plan: RunPlan, staging: Path, run_id: str, generated_at: dt.datetime,
                  say: Progress, show_progress: bool, pool: KernelPool) -> list[NotebookOutcome]:
    work = staging / "artefacts"
    work.mkdir()
    packages = package_versions()
    outcomes = []
    names = list(plan.notebooks)
    for i, name in enumerate(names, 1):
        km = pool.take(name)
        if i < len(names):  # the next notebook's kernel boots while this one runs
            pool.prestart(names[i])
        say(f"[{i}/{len(plan.notebooks)}] {name}: running")
        t0 = time.perf_counter()
        result_path = work / f"{name}.json"
        params = {
            "project": str(plan.project.path), "model": plan.model.name, "version": plan.version.name,
            "window": _window_param(plan.start, plan.end), "run_id": run_id,
            "output": str(result_path), "work_dir": str(work),
        }
        params.update(plan.parameters.get(name, {}))
        out_ipynb = staging / f"{name}.ipynb"
        with _scan_progress(work, name, lambda msg, prefix=f"[{i}/{len(plan.notebooks)}] {name}: ": say(prefix + msg)):
            ok, error = execute_notebook(name, out_ipynb, params, show_progress=show_progress, km=km,
                                         rows=plan.data.get("current_rows"))
        result = read_notebook_result(result_path)
        status = notebook_status_of(result) if ok else "error"
        outcome = NotebookOutcome(name=name, status=status, seconds=0.0, result=result, error=error)
        meta = {
            "notebook": name, "model": plan.model.name, "version": plan.version.name,
            "window": {"start": plan.start.isoformat(), "end": plan.end.isoformat()},
            "run_id": run_id, "generated_at": generated_at.isoformat(),
            "fingerprint": plan.data["fingerprint"], "baseline_id": plan.baseline_id,
            "packages": packages, "status": status, "verdict": _notebook_verdict(outcome),
            "findings": _findings(result), "missing": result.get("missing", []),
            "parameters": {k: v for k, v in params.items() if k not in ("output", "work_dir", "project")},
        }
        export_report(out_ipynb, staging / f"{name}.html", meta)
        outcome.seconds = round(time.perf_counter() - t0, 2)
        say(f"[{i}/{len(plan.notebooks)}] {name}: {status} ({outcome.seconds:.1f} s)"
            + (f": {error}" if error else ""))
        outcomes.append(outcome)
    return outcomes


def _summary(plan: RunPlan, run_id: str, generated_at: dt.datetime,
             outcomes: Sequence[NotebookOutcome]) -> dict[str, Any]:
    checks = [c for o in outcomes for c in o.result.get("checks", [])]
    causes = diagnose(checks)
    status = "error" if any(o.status == "error" for o in outcomes) else status_of(causes)
    findings = []
    for o in outcomes:
        for f in o.result.get("findings", []):
            findings.append({"notebook": o.name, **f})
    findings.sort(key=lambda f: -SEVERITY.get(f.get("status", "ok"), 0))
    return {
        "schema": SCHEMA,
        "model": plan.model.name,
        "version": plan.version.name,
        "window": {"start": plan.start.isoformat(), "end": plan.end.isoformat()},
        "run_id": run_id,
        "generated_at": generated_at.isoformat(),
        "mlmon_nb_version": __version__,
        "status": status,
        "verdict": run_verdict(status, {o.name: o.status for o in outcomes}, checks, causes),
        "findings": findings,
        "baseline_id": plan.baseline_id,
        "packages": package_versions(),
        "parameters": {n: p for n, p in plan.parameters.items() if p},
        "data": plan.data,
        "notebooks": {
            o.name: {"status": o.status, "report": f"{o.name}.html", "verdict": _notebook_verdict(o),
                     "seconds": o.seconds,
                     **({"reason": " ".join(o.result.get("missing", []))} if o.status == "skipped" else {})}
            for o in outcomes
        },
        "causes": [c.to_dict() for c in causes],
        "incidents": [],
        "checks": checks,
    }


# --------------------------------------------------------------------------- baselines

def prepare_baseline(project_path: str | Path, model: str, version: str, window: str | None = None) -> RunPlan:
    """Validate a baseline run without writing anything.

    ``window`` (``START/END``) fits the baseline from that window of the logs instead of the
    reference data, accepting it as the new normal.

    Raises
    ------
    MlmonError
        Bad config, model file or reference data.
    """
    project = load_project(project_path)
    mcfg = project.model(model)
    vcfg = project.version(model, version)
    notebook_path("baseline")
    fingerprints, verified = [], None
    if vcfg.model is not None:
        verified = verify_model_file(mcfg, vcfg, project.archive)
        fingerprints.append(verified.fingerprint)
    con = connect()
    if window:
        start, end = parse_window(window)
        window = format_window(start, end)  # the notebook and the accept note get the dates last-week meant
        stats = window_stats(mcfg, start, end, version=version if mcfg.version_column else None, con=con)
        ref_rows, ref_fp = stats.rows, stats.fingerprint
    else:
        ref_rows, ref_fp = reference_stats(project, mcfg, con=con)
    data = {"reference_rows": ref_rows, "current_rows": 0, "labelled_rows": 0,
            "fingerprint": combine_fingerprints(ref_fp, *fingerprints)}
    if mcfg.baseline.window is not None:
        start, end = mcfg.baseline.window
        stats = window_stats(mcfg, start, end, labels=False, con=con)
        data["current_rows"] = stats.rows
        data["fingerprint"] = combine_fingerprints(data["fingerprint"], stats.fingerprint)
    now = dt.datetime.now(dt.timezone.utc)
    return RunPlan(project=project, model=mcfg, version=vcfg, start=now, end=now, notebooks=("baseline",),
                   parameters={"baseline": {"window": window} if window else {}}, data=data, kind="baseline",
                   model_file=verified)


def execute_baseline(plan: RunPlan, progress: Progress | None = None, show_progress: bool = False,
                     now: dt.datetime | None = None, kernels: KernelPool | None = None) -> RunOutcome:
    """Run the baseline notebook in a staging folder and archive the baseline atomically.

    ``kernels`` may hold a kernel already warming up for it (closed at the end).
    """
    kernel = _kernel_then_warm_up()
    with kernels or KernelPool(kernel) as pool:
        return _execute_baseline(plan, say=progress or (lambda msg: None), show_progress=show_progress,
                                 now=now, km=pool.take("baseline"))


def _execute_baseline(plan: RunPlan, say: Progress, show_progress: bool, now: dt.datetime | None,
                      km) -> RunOutcome:
    generated_at = (now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    target = plan.project.archive / plan.model.name / plan.version.name / "baseline"
    baseline_id = archive.reserve_run_id(target, archive.new_run_id(generated_at))
    staging = None
    try:
        staging = archive.stage(plan.project.archive)
        if plan.model_file is not None:
            plan.model_file.keep(plan.project.archive)
        say(f"[1/1] baseline of {plan.model.name} {plan.version.name}: running")
        t0 = time.perf_counter()
        result_path = staging / "baseline.result.json"
        params = {"project": str(plan.project.path), "model": plan.model.name, "version": plan.version.name,
                  "run_id": baseline_id, "output": str(result_path), "work_dir": str(staging),
                  **plan.parameters.get("baseline", {})}
        with _scan_progress(staging, "baseline", lambda msg: say(f"[1/1] baseline: {msg}")):
            ok, error = execute_notebook("baseline", staging / "baseline.ipynb", params,
                                         show_progress=show_progress, km=km)
        result = read_notebook_result(result_path)
        result_path.unlink(missing_ok=True)
        status = "error" if not ok else "ok"
        outcome = NotebookOutcome(name="baseline", status=status, seconds=0.0, result=result, error=error)
        meta = {
            "notebook": "baseline", "model": plan.model.name, "version": plan.version.name,
            "window": None, "run_id": baseline_id, "generated_at": generated_at.isoformat(),
            "fingerprint": plan.data["fingerprint"], "baseline_id": baseline_id,
            "packages": package_versions(), "status": "ok" if ok else "error",
            "verdict": _notebook_verdict(outcome), "findings": _findings(result),
            "missing": result.get("missing", []), "parameters": {"model": plan.model.name,
                                                                 "version": plan.version.name},
        }
        export_report(staging / "baseline.ipynb", staging / "baseline.html", meta)
        if ok and not (staging / "baseline.json").is_file():
            ok, status = False, "error"
        if not ok:
            # A failed baseline is never archived as a baseline: keep its report for diagnosis.
            failed = plan.project.archive / plan.model.name / plan.version.name / "baseline-failed"
            failed_id = archive.reserve_run_id(failed, baseline_id)
            archive.release_run_id(target, baseline_id)
            run_dir = archive.commit(staging, failed, failed_id)
            say(f"baseline failed: {error or 'no baseline.json written'}; report in {run_dir}")
            return RunOutcome(run_dir=run_dir, summary={"status": "error"}, exit_code=3)
        run_dir = archive.commit(staging, target, baseline_id)
    except BaseException:
        if staging is not None:
            archive.discard(staging)
        archive.release_run_id(target, baseline_id)
        raise
    say(f"[1/1] baseline: done ({time.perf_counter() - t0:.1f} s)")
    window = plan.parameters.get("baseline", {}).get("window")
    if window:  # a baseline fitted on a chosen window accepts what it holds as the new normal
        record_action(plan.project.archive, "accept", model=plan.model.name, version=plan.version.name,
                      baseline_id=run_dir.name, note=f"new baseline from the window {window}")
    archive.write_index(plan.project.archive, Policy.of(plan.project.alerts))
    return RunOutcome(run_dir=run_dir, summary={"status": "ok", "baseline_id": run_dir.name}, exit_code=0)
