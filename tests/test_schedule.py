"""Relative windows (mlmon_nb/windows.py), `mlmon run --every` (mlmon_nb/cli.py) and the
scheduling recipes of docs/SCHEDULING.md and docs/examples/: every `mlmon` command line in them
parses with the real command, the Airflow DAG maps exit codes as documented, the systemd units
pass `systemd-analyze verify`."""

from __future__ import annotations

import ast
import datetime as dt
import getpass
import json
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path
from types import SimpleNamespace

import click
import pytest

from mlmon_nb.cli import _check_window_options, entry, main
from mlmon_nb.errors import DataError, UsageError
from mlmon_nb.windows import format_window, parse_length, parse_window, resolve_window, windows_every

from conftest import copy_demo, write_project

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
UTC = dt.timezone.utc


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def invoke(args, capsys):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    old = sys.argv
    sys.argv = ["mlmon", *args]
    try:
        with pytest.raises(SystemExit) as info:
            entry()
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


# --------------------------------------------------------------------------- relative windows

@pytest.mark.parametrize(("text", "now", "start", "end"), [
    ("last-week", at(2026, 8, 26, 15), at(2026, 8, 17), at(2026, 8, 24)),  # a Wednesday
    ("last-week", at(2026, 8, 23, 23, 59), at(2026, 8, 10), at(2026, 8, 17)),  # Sunday night: this week is not over
    ("last-week", at(2026, 8, 24), at(2026, 8, 17), at(2026, 8, 24)),  # Monday 00:00: it has just ended
    ("last-week", at(2026, 3, 4, 12), at(2026, 2, 23), at(2026, 3, 2)),  # across the end of February
    ("last-week", at(2027, 1, 1, 8), at(2026, 12, 21), at(2026, 12, 28)),  # a Friday, New Year's Day
    # Monday 01:00 in Berlin is still Sunday in UTC: the week before is not over yet.
    ("last-week", dt.datetime(2026, 8, 24, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))),
     at(2026, 8, 10), at(2026, 8, 17)),
    ("last-week", dt.datetime(2026, 8, 26, 15), at(2026, 8, 17), at(2026, 8, 24)),  # naive now is UTC
    (" LAST-WEEK ", at(2026, 8, 26), at(2026, 8, 17), at(2026, 8, 24)),
    ("last-7d", at(2026, 9, 2, 6, 30), at(2026, 8, 26), at(2026, 9, 2)),  # across a month end
    ("last-1d", at(2028, 3, 1, 0, 5), at(2028, 2, 29), at(2028, 3, 1)),  # a leap day
    ("last-30d", at(2027, 1, 15, 23), at(2026, 12, 16), at(2027, 1, 15)),
    ("last-24h", at(2026, 8, 24, 6, 59), at(2026, 8, 23, 6), at(2026, 8, 24, 6)),
    ("last-1h", at(2026, 9, 1, 0, 15), at(2026, 8, 31, 23), at(2026, 9, 1)),  # the hour before a month starts
    ("2026-08-17/P7D", None, at(2026, 8, 17), at(2026, 8, 24)),
    ("2026-08-17/P1W", None, at(2026, 8, 17), at(2026, 8, 24)),
    ("P7D/2026-08-24", None, at(2026, 8, 17), at(2026, 8, 24)),
    ("2026-08-31T22:00/PT6H", None, at(2026, 8, 31, 22), at(2026, 9, 1, 4)),
    ("2026-08-17T06:00+02:00/P1DT12H", None, at(2026, 8, 17, 4), at(2026, 8, 18, 16)),
    ("2026-02-27/p3d", None, at(2026, 2, 27), at(2026, 3, 2)),
])
def test_windows_resolve_against_now_in_utc(text, now, start, end):
    assert parse_window(text, now=now) == (start, end)


def test_the_canonical_window_is_dates_for_whole_days_and_utc_datetimes_otherwise():
    now = at(2026, 8, 26, 7, 40)
    assert resolve_window("last-week", now) == "2026-08-17/2026-08-24"
    assert resolve_window("last-6h", now) == "2026-08-26T01:00:00+00:00/2026-08-26T07:00:00+00:00"
    assert resolve_window("2026-08-17T00:00+00:00/P7D") == "2026-08-17/2026-08-24"
    start, end = parse_window(resolve_window("last-6h", now))  # the canonical form parses back
    assert (start, end) == (at(2026, 8, 26, 1), at(2026, 8, 26, 7))


def test_mlmon_now_fixes_now_for_tests(monkeypatch):
    monkeypatch.setenv("MLMON_NOW", "2026-08-24T00:30")
    assert resolve_window("last-week") == "2026-08-17/2026-08-24"
    assert resolve_window("last-2h") == "2026-08-23T22:00:00+00:00/2026-08-24T00:00:00+00:00"
    assert resolve_window("last-week", now=at(2026, 9, 2)) == "2026-08-24/2026-08-31"  # a parameter wins
    monkeypatch.setenv("MLMON_NOW", "next tuesday")
    with pytest.raises(UsageError, match="MLMON_NOW 'next tuesday' is not an ISO date"):
        parse_window("last-week")


def test_the_clock_is_read_only_for_relative_windows(monkeypatch):
    monkeypatch.setenv("MLMON_NOW", "garbage")
    assert parse_window("2026-08-17/P7D") == (at(2026, 8, 17), at(2026, 8, 24))


EXAMPLES_HINT = "(e.g. last-week, last-7d, 2026-08-17/P7D, 2026-08-17/2026-08-24)"


@pytest.mark.parametrize(("text", "expected"), [
    ("last-wek", "window 'last-wek': expected last-week, last-Nd or last-Nh (N days or hours), or START/END "
                 + EXAMPLES_HINT),
    ("last week", "or START/END " + EXAMPLES_HINT),
    ("last-7w", "expected last-week, last-Nd or last-Nh"),
    ("last-0d", "N must be at least 1"),
    ("yesterday", "expected START/END with one '/', START/DURATION or a relative window " + EXAMPLES_HINT),
    ("2026-08-17", "expected START/END with one '/'"),
    ("2026-08-17/P1M", "months and years have no fixed length; use days or weeks (e.g. P30D, P4W)"),
    ("2026-08-17/P", "is not an ISO 8601 duration"),
    ("2026-08-17/PT", "is not an ISO 8601 duration"),
    ("2026-08-17/P0D", "must be longer than zero"),
    ("P1D/P2D", "one side must be a date"),
    ("a/b/c", "got 2 '/'"),
    ("2026-08-17/P99999W", "dates must lie between 1970-01-01 and 2200-01-01"),
    ("last-99999999d", "dates must lie between 1970-01-01 and 2200-01-01"),
    ("17.08.2026/P7D", "START '17.08.2026' is not an ISO date or datetime"),
])
def test_bad_windows_are_one_teaching_line(text, expected):
    with pytest.raises(UsageError) as info:
        parse_window(text, now=at(2026, 8, 26))
    message = str(info.value)
    assert expected in message and "\n" not in message


@pytest.mark.parametrize(("text", "length"), [
    ("7d", dt.timedelta(days=7)), ("1w", dt.timedelta(weeks=1)), ("12h", dt.timedelta(hours=12)),
    ("P7D", dt.timedelta(days=7)), ("PT6H", dt.timedelta(hours=6)),
])
def test_every_takes_chunk_lengths_and_iso_durations(text, length):
    assert parse_length(text) == length


@pytest.mark.parametrize(("text", "expected"), [
    ("7x", "expected a length like 7d, 1w or 12h"), ("0d", "longer than zero"), ("P1M", "months and years"),
])
def test_bad_every_lengths_are_refused(text, expected):
    with pytest.raises(UsageError, match=re.escape(expected)):
        parse_length(text)


def test_windows_every_are_the_complete_windows_aligned_at_since():
    week = dt.timedelta(days=7)
    spans = windows_every(week, "2026-08-03", now=at(2026, 8, 31, 5))  # 08-31 is a Monday
    assert [format_window(*s) for s in spans] == ["2026-08-03/2026-08-10", "2026-08-10/2026-08-17",
                                                  "2026-08-17/2026-08-24", "2026-08-24/2026-08-31"]
    assert len(windows_every(week, "2026-08-03", now=at(2026, 8, 30, 23))) == 3  # the 4th is not over
    assert len(windows_every(week, "2026-08-03", until="2026-08-20")) == 2
    assert windows_every(week, "2026-09-07", now=at(2026, 9, 8)) == []
    days = windows_every(dt.timedelta(days=1), "2026-08-30T06:00", until="2026-09-02T06:00")
    assert days[-1] == (at(2026, 9, 1, 6), at(2026, 9, 2, 6))
    with pytest.raises(UsageError, match="--until 2026-08-01 must be after --since 2026-08-03"):
        windows_every(week, "2026-08-03", until="2026-08-01")
    with pytest.raises(UsageError, match="--since 'monday' is not an ISO date"):
        windows_every(week, "monday")


# --------------------------------------------------------------------------- the command: input errors

@pytest.fixture
def bare_project(tmp_path):
    """A project file without data: enough for every check that must answer before data is read."""
    return write_project(tmp_path)


HEAVY_PROBE = """\
import sys
from mlmon_nb.cli import entry
sys.argv = ["mlmon", *sys.argv[1:]]
try:
    entry()
finally:
    heavy = sorted(m for m in ("pandas", "duckdb", "nbconvert", "sklearn", "papermill") if m in sys.modules)
    sys.stderr.write(f"heavy modules: {heavy}\\n")
"""


@pytest.mark.parametrize(("extra", "expected"), [
    (["-w", "last-wek"], "window 'last-wek': expected last-week"),
    (["-w", "2026-08-17/P1M"], "months and years have no fixed length"),
    (["-w", "last-week", "--every", "7d", "--since", "2026-08-03"], "are mutually exclusive"),
    (["--every", "7d"], "--every 7d needs --since DATE"),
    (["--every", "7x", "--since", "2026-08-03"], "--every '7x': expected a length like 7d"),
    (["-w", "last-week", "--since", "2026-08-03"], "--since and --until go with --every"),
    ([], "give -w WINDOW (e.g. -w last-week or -w 2026-08-17/2026-08-24) or --every LENGTH --since DATE"),
])
def test_window_errors_exit_2_with_one_line_before_any_heavy_import(bare_project, extra, expected):
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", HEAVY_PROBE, "run", "-p", str(bare_project), "-m", "m",
                           "-v", "1", *extra], capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - t0
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 2 and lines[0].startswith("mlmon: error: ") and expected in lines[0], lines
    assert lines[1] == "heavy modules: []"
    assert seconds < 10  # ~0.2 s alone; generous for a busy machine
    assert not (bare_project.parent / "reports").exists()


def test_a_longer_backlog_than_one_call_runs_is_refused_with_the_until_that_fits(small_project, capsys):
    project, _ = small_project
    code, out, err = invoke(["run", "-p", str(project), "-m", "m", "-v", "1", "--every", "1h",
                             "--since", "2026-10-05", "--until", "2026-10-12"], capsys)
    assert code == 2 and out == ""
    assert err.strip() == ("mlmon: error: --every 1h --since 2026-10-05: 168 windows are missing and one call runs "
                           "at most 60; add --until 2026-10-07T12:00:00+00:00 to run the first 60, then call again "
                           "without it")
    assert not (project.parent / "reports").exists()


def test_nothing_complete_yet_is_not_an_error(small_project, capsys, monkeypatch):
    project, _ = small_project
    monkeypatch.setenv("MLMON_NOW", "2026-10-07")
    code, out, err = invoke(["run", "-p", str(project), "-m", "m", "-v", "1", "--every", "7d",
                             "--since", "2026-10-05"], capsys)
    assert code == 0 and out == ""
    assert "no complete window yet" in err


# --------------------------------------------------------------------------- --every with stubbed runs

def _fake_runs(monkeypatch, results):
    """Replace one window's run by a stub: ``results`` maps a window to an exit code or an exception."""
    import mlmon_nb.cli as cli

    ran = []

    def run_window(kernels, project, model, version, window, names, params, fail_on):
        ran.append(window)
        result = results[window]
        if isinstance(result, Exception):
            raise result
        status = {0: "ok", 1: "alert", 3: "error"}[result]
        return SimpleNamespace(exit_code=result, summary={"status": status}, run_dir=Path("/archive") / window)

    monkeypatch.setattr(cli, "_run_window", run_window)
    return ran


WEEKS = ["2026-10-05/2026-10-12", "2026-10-12/2026-10-19", "2026-10-19/2026-10-26"]


@pytest.mark.parametrize(("codes", "expected"), [
    ((0, 0, 0), 0), ((0, 1, 0), 1), ((1, 3, 0), 3), ((3, 1, 1), 3),
])
def test_every_exits_with_the_worst_of_its_windows(small_project, capsys, monkeypatch, codes, expected):
    ran = _fake_runs(monkeypatch, dict(zip(WEEKS, codes)))
    code, out, err = invoke(["run", "-p", str(small_project[0]), "-m", "m", "-v", "1", "--every", "7d",
                             "--since", "2026-10-05", "--until", "2026-10-26"], capsys)
    assert code == expected
    assert ran == WEEKS  # in order
    assert [line.split(" ran: ")[0] for line in out.splitlines()] == WEEKS
    assert "3 ran, 0 skipped" in err


def test_bad_input_in_a_later_window_stops_there_and_says_where(small_project, capsys, monkeypatch):
    ran = _fake_runs(monkeypatch, {WEEKS[0]: 1, WEEKS[1]: DataError("logs: no rows in window"), WEEKS[2]: 0})
    code, out, err = invoke(["run", "-p", str(small_project[0]), "-m", "m", "-v", "1", "--every", "7d",
                             "--since", "2026-10-05", "--until", "2026-10-26"], capsys)
    assert code == 2 and ran == WEEKS[:2]
    assert out.splitlines() == [f"{WEEKS[0]} ran: status alert, exit 1, /archive/{WEEKS[0]}"]
    assert err.strip().splitlines()[-1] == (
        f"mlmon: error: window {WEEKS[1]}: logs: no rows in window (the 1 run(s) before it are archived; "
        "once this is fixed, the same command continues here)")


# --------------------------------------------------------------------------- on the demo: real runs

def _run_folders(archive: Path) -> list[str]:
    return sorted(p.parent.relative_to(archive).as_posix() for p in archive.glob("*/*/*/*/summary.json"))


def test_last_week_and_every_run_the_missing_windows_in_order_on_the_demo(demo, tmp_path, capsys, monkeypatch):
    project = copy_demo(demo, tmp_path)
    archive = project.parent / "reports"
    base = ["run", "-p", str(project), "-m", demo.model, "-v", demo.version, "-n", "operations",
            "--fail-on", "never"]
    folder = f"{demo.model}/{demo.version}"

    # A Wednesday: last-week is the demo's first week, and the run folder has its dates.
    monkeypatch.setenv("MLMON_NOW", "2026-09-16T09:00")
    code, out, err = invoke([*base, "-w", "last-week"], capsys)
    assert code == 0, err
    assert "window last-week: 2026-09-07/2026-09-14" in err
    run_dir = Path(out.strip().splitlines()[-1])
    assert run_dir.parent.name == "2026-09-07_2026-09-14"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["window"] == {"start": "2026-09-07T00:00:00+00:00", "end": "2026-09-14T00:00:00+00:00"}

    # Catch up to 2026-09-28: the first week is archived, the next two run, oldest first.
    monkeypatch.setenv("MLMON_NOW", "2026-09-29T06:00")
    code, out, err = invoke([*base, "--every", "7d", "--since", "2026-09-07"], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert [line.split(" ", 2)[:2] for line in lines] == [
        ["2026-09-07/2026-09-14", "skipped:"], ["2026-09-14/2026-09-21", "ran:"], ["2026-09-21/2026-09-28", "ran:"]]
    assert lines[0].endswith(str(run_dir))
    runs = _run_folders(archive)
    assert [r.rsplit("/", 1)[0] for r in runs] == [f"{folder}/2026-09-07_2026-09-14", f"{folder}/2026-09-14_2026-09-21",
                                                   f"{folder}/2026-09-21_2026-09-28"]
    made = {r: json.loads((archive / r / "summary.json").read_text())["generated_at"] for r in runs}
    assert made[runs[1]] <= made[runs[2]]  # in order

    # Called again: nothing is missing, nothing runs.
    code, out, err = invoke([*base, "--every", "7d", "--since", "2026-09-07"], capsys)
    assert code == 0, err
    assert [line.split(" ", 2)[1] for line in out.strip().splitlines()] == ["skipped:"] * 3
    assert _run_folders(archive) == runs


# --------------------------------------------------------------------------- the recipes

SHELL_OPERATORS = {">", ">>", "2>&1", "|", "||", "&&", ";", "&"}
JINJA = {"data_interval_start": "2026-09-07", "data_interval_end": "2026-09-14"}


def _render(text: str) -> str:
    """Airflow's templates as a DAG run of the week 2026-09-07 renders them."""
    return re.sub(r"\{\{\s*(\w+)\s*\|\s*ds\s*\}\}", lambda m: JINJA[m.group(1)], text)


def mlmon_commands(text: str) -> list[list[str]]:
    """The arguments after ``mlmon`` of every ``mlmon SUBCOMMAND ...`` line, up to a shell operator."""
    found = []
    for line in _render(text.replace("\\\n", " ")).splitlines():
        match = re.search(r"(?:^|[\s/=])mlmon\s+([a-z]+)\b(.*)", line)
        if match is None or match.group(1) not in main.commands:
            continue
        args = [match.group(1)]
        for token in shlex.split(match.group(2)):
            if token in SHELL_OPERATORS or token.startswith((">", "2>")):
                break
            args.append(token)
        found.append(args)
    return found


def _code_blocks(markdown: str) -> str:
    return "\n".join(markdown.split("```")[1::2])


def _constants(tree: ast.Module) -> dict[str, object]:
    """Module-level NAME = <literal> assignments."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def recipe_commands() -> dict[str, list[list[str]]]:
    dag = _constants(ast.parse((EXAMPLES / "airflow_mlmon_dag.py").read_text()))
    return {
        "SCHEDULING.md": mlmon_commands(_code_blocks((DOCS / "SCHEDULING.md").read_text())),
        "mlmon.service": mlmon_commands((EXAMPLES / "mlmon.service").read_text()),
        "airflow_mlmon_dag.py": [c for v in dag.values() if isinstance(v, str) for c in mlmon_commands(v)],
    }


def check_command(args: list[str]) -> dict:
    """Parse a command line with the real click command and check its window options as `mlmon`
    does before it reads anything; raise (click or UsageError) when it would be refused."""
    name, rest = args[0], list(args[1:])
    command = main.commands[name]
    params = command.make_context(name, rest, parent=click.Context(main, info_name="mlmon")).params
    if name == "run":
        _check_window_options(params["window"], params["every"], params["since"], params["until"])
        if params["window"] is not None:
            resolve_window(params["window"])
        else:
            windows_every(parse_length(params["every"]), params["since"], params["until"])
    if name == "baseline" and params["window"] is not None:
        resolve_window(params["window"])
    return params


def test_every_recipe_command_parses_with_the_real_command():
    found = recipe_commands()
    assert len(found["SCHEDULING.md"]) == 6, found["SCHEDULING.md"]
    assert len(found["mlmon.service"]) == 1 and len(found["airflow_mlmon_dag.py"]) == 2
    windows = []
    for where, commands in found.items():
        for args in commands:
            try:
                params = check_command(args)
            except (click.ClickException, UsageError) as exc:
                pytest.fail(f"{where}: mlmon {shlex.join(args)}: {exc}")
            windows.append(params.get("window") or params.get("every"))
    assert {"last-week", "7d", "2026-09-07/2026-09-14"} <= set(windows)


@pytest.mark.parametrize("args", [
    ["run", "-p", "mlmon.yaml", "-m", "m", "-v", "1", "-w", "last-wek"],
    ["run", "-p", "mlmon.yaml", "-m", "m", "-v", "1", "--evry", "7d", "--since", "2026-09-07"],
    ["run", "-p", "mlmon.yaml", "-m", "m", "-w", "last-week"],
    ["run", "-p", "mlmon.yaml", "-m", "m", "-v", "1", "--every", "7d"],
    ["baseline", "-p", "mlmon.yaml", "-m", "m", "-v", "1", "-w", "P7D"],
])
def test_the_recipe_check_refuses_what_mlmon_refuses(args):
    with pytest.raises((click.ClickException, UsageError)):
        check_command(args)


def test_the_recipes_in_the_guide_are_the_example_files():
    guide = (DOCS / "SCHEDULING.md").read_text()
    service = (EXAMPLES / "mlmon.service").read_text()
    exec_start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    assert exec_start in guide
    for setting in ("SuccessExitStatus=1", "Restart=on-failure", "RestartPreventExitStatus=2", "Type=oneshot"):
        assert f"\n{setting}\n" in service and setting in guide
    assert "OnCalendar=Mon *-*-* 06:00:00 UTC" in (EXAMPLES / "mlmon.timer").read_text()
    dag = _constants(ast.parse((EXAMPLES / "airflow_mlmon_dag.py").read_text()))
    assert dag["RUN_COMMAND"] in guide
    for block in re.findall(r"```crontab\n(.*?)```", guide, re.S):
        for line in block.splitlines():
            if line.strip() and not line.startswith("#"):
                fields = line.split(None, 5)
                assert all(re.fullmatch(r"[0-9*/,-]+", f) for f in fields[:5]), line
                assert "mlmon run" in fields[5], line


def test_the_airflow_dag_maps_exit_codes_as_the_guide_says():
    tree = ast.parse((EXAMPLES / "airflow_mlmon_dag.py").read_text())
    consts = _constants(tree)
    assert consts["EXIT_CODES"] == {0: "success", 1: "news", 2: "fail", 3: "retry"}
    assert consts["RUN_COMMAND"].startswith("/opt/mlmon/.venv/bin/mlmon run ")
    assert consts["RUN_COMMAND"].endswith(" -w {{ data_interval_start | ds }}/{{ data_interval_end | ds }}")
    # The task runs RUN_COMMAND, then prints its exit code with the mark execute() reads.
    assign = {n.targets[0].id: n.value for n in tree.body if isinstance(n, ast.Assign)}
    assert ast.unparse(assign["BASH_COMMAND"]) == "RUN_COMMAND + '; echo \"' + EXIT_MARK + '$?\"'"
    calls = {ast.unparse(n.func): n for n in ast.walk(tree) if isinstance(n, ast.Call)}
    run_task = calls["MlmonRunOperator"]
    assert {k.arg: ast.unparse(k.value) for k in run_task.keywords} == {"task_id": "'mlmon_run'",
                                                                       "bash_command": "BASH_COMMAND"}
    dag = {k.arg: k.value for k in calls["DAG"].keywords}
    assert ast.literal_eval(dag["schedule"]) == "0 6 * * 1"
    assert ast.literal_eval(dag["catchup"]) is True and ast.literal_eval(dag["max_active_runs"]) == 1
    assert "'retries': 2" in ast.unparse(dag["default_args"])
    # In execute(): "fail" raises AirflowFailException (no retry), "retry" raises AirflowException.
    execute = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "execute")
    raised = {ast.unparse(n.test): ast.unparse(n.body[0].exc.func) for n in ast.walk(execute)
              if isinstance(n, ast.If) and isinstance(n.body[0], ast.Raise)}
    assert raised == {"state == 'fail'": "AirflowFailException", "state == 'retry'": "AirflowException"}


def _stub_airflow(monkeypatch) -> SimpleNamespace:
    """Just enough of Airflow 2 to import the DAG; BashOperator.execute behaves as Airflow's
    (``bash -c``, AirflowException on a non-zero exit, the last stdout line returned)."""
    class AirflowException(Exception):
        pass

    class AirflowFailException(AirflowException):
        pass

    class Operator:
        def __init__(self, *, task_id, **kwargs):
            self.task_id, self.kwargs = task_id, kwargs

        def __rshift__(self, other):
            return other

    class BashOperator(Operator):
        def __init__(self, *, task_id, bash_command, **kwargs):
            super().__init__(task_id=task_id, **kwargs)
            self.bash_command = bash_command

        def execute(self, context):
            done = subprocess.run(["bash", "-c", self.bash_command], capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                raise AirflowException(f"Bash command failed with exit code {done.returncode}")
            lines = done.stdout.strip().splitlines()
            return lines[-1] if lines else None

    class ShortCircuitOperator(Operator):
        pass

    class DAG:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    stubs = {"airflow": {"DAG": DAG},
             "airflow.exceptions": {"AirflowException": AirflowException, "AirflowFailException": AirflowFailException},
             "airflow.operators": {},
             "airflow.operators.bash": {"BashOperator": BashOperator},
             "airflow.operators.python": {"ShortCircuitOperator": ShortCircuitOperator}}
    for name, attrs in stubs.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, module)
    return SimpleNamespace(AirflowException=AirflowException, AirflowFailException=AirflowFailException)


def test_the_airflow_task_state_follows_mlmons_exit_code(monkeypatch):
    airflow = _stub_airflow(monkeypatch)
    dag = runpy.run_path(str(EXAMPLES / "airflow_mlmon_dag.py"))
    run = dag["run"]
    suffix = run.bash_command[len(dag["RUN_COMMAND"]):]
    assert run.bash_command.startswith(dag["RUN_COMMAND"]) and suffix == '; echo "mlmon-exit=$?"'

    def state(code: int):
        run.bash_command = f"echo /archive/run/folder; (exit {code}){suffix}"  # mlmon's stdout, then its code
        try:
            return run.execute({})
        except airflow.AirflowFailException:
            return "failed, no retry"
        except airflow.AirflowException:
            return "failed, retried"

    assert [state(code) for code in (0, 1, 2, 3, 137)] == [
        "success", "news", "failed, no retry", "failed, retried", "failed, retried"]
    ti = SimpleNamespace(xcom_pull=lambda task_ids: {"mlmon_run": "news"}[task_ids])
    assert dag["had_news"](ti) is True
    ti = SimpleNamespace(xcom_pull=lambda task_ids: "success")
    assert dag["had_news"](ti) is False


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_units_verify(tmp_path):
    mlmon = Path(sys.executable).parent / "mlmon"
    for name in ("mlmon.service", "mlmon.timer"):
        text = (EXAMPLES / name).read_text()
        # Installed paths and user of the example, replaced by ones that exist here.
        text = text.replace("/opt/mlmon/.venv/bin/mlmon", str(mlmon)).replace("/srv/mlmon", str(tmp_path))
        text = text.replace("User=mlmon", f"User={getpass.getuser()}")
        (tmp_path / name).write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "mlmon.service"), str(tmp_path / "mlmon.timer")],
                          capture_output=True, text=True, timeout=120)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "mlmon" in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr
