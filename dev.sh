#!/usr/bin/env bash
# mlmon-nb developer entry point.
#   ./dev.sh setup   create .venv, install mlmon-nb and its dependencies, register the
#                    Jupyter kernel "mlmon-nb", then run `mlmon demo` (prints the report index)
#   ./dev.sh test    run the whole test suite (creates .venv first when it is missing)
set -euo pipefail
cd "$(dirname "$0")"

pick_python() {
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else 1)'; then
      echo "$candidate"; return
    fi
  done
  echo "dev.sh: Python 3.11-3.13 not found (set PYTHON=/path/to/python3.11)" >&2
  exit 2
}

say() { echo "dev.sh: $*" >&2; }

pip_install() {
  # pip's own progress, concisely: the package it is collecting on one line (rewritten in place on
  # a terminal, every tenth package in a log), then the install step. Full output: the log below.
  local log=.venv/pip-install.log status
  set +e
  .venv/bin/python -m pip install --progress-bar off "$@" 2>&1 | tee "$log" | pip_progress
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" != 0 ]; then
    say "pip failed (exit $status); the last lines of $log:"
    tail -n 25 "$log" >&2
    exit "$status"
  fi
}

pip_progress() {
  # Reads pip's output; writes one short line per phase to stderr.
  local line name n=0
  while IFS= read -r line; do
    case $line in
      Collecting\ *)
        n=$((n + 1)); name=${line#Collecting }; name=${name%%[<>=!~ ;[(]*}
        if [ -t 2 ]; then printf '\r\033[K  pip: collecting %s (%d)' "$name" "$n" >&2
        elif [ $((n % 10)) = 1 ]; then printf '  pip: collecting %s (%d)\n' "$name" "$n" >&2; fi ;;
      "Installing collected packages"*)
        if [ -t 2 ]; then printf '\r\033[K' >&2; fi
        printf '  pip: installing %d collected packages (the longest step)\n' "$n" >&2 ;;
      "Successfully installed"*)
        printf '  pip: done\n' >&2 ;;
    esac
  done
  if [ -t 2 ] && [ "$n" -gt 0 ]; then printf '\r\033[K' >&2; fi
}

ensure_env() {
  local stamp=.venv/.mlmon-installed
  if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then
    return
  fi
  local py; py=$(pick_python)
  say "[1/4] creating .venv with $py"
  "$py" -m venv .venv
  say "[2/4] upgrading pip"
  pip_install --upgrade pip
  say "[3/4] installing mlmon-nb and its dependencies (a few minutes the first time)"
  pip_install -e ".[test]"
  say "[4/4] registering the Jupyter kernel mlmon-nb"
  .venv/bin/python -c "from mlmon_nb.kernels import ensure_kernel; ensure_kernel()"
  touch "$stamp"
}

compile_sources() {
  # The package is installed editable, so pip did not byte-compile it; with PYTHONDONTWRITEBYTECODE
  # set (as on CI) every process would compile it again. Only changed files are recompiled.
  .venv/bin/python -m compileall -q mlmon_nb >/dev/null
}

ensure_spark() {
  # The Spark engine's tests need the spark extra (PySpark, ~450 MB) and a Java 17+: installed here
  # when missing, so that CI runs them; without them those tests are skipped with the reason.
  if ! .venv/bin/python -c 'import importlib.util as u, sys; sys.exit(0 if u.find_spec("pyspark") and u.find_spec("sqlglot") else 1)' 2>/dev/null; then
    local t0=$SECONDS
    say "installing the spark extra for the Spark engine tests (PySpark, about 450 MB, once)"
    pip_install -e ".[test,spark]"
    say "spark extra installed in $((SECONDS - t0)) s"
  fi
  if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing a Java runtime for the Spark engine tests"
      if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless; } >/dev/null 2>&1; then
        say "could not install Java; the Spark engine tests will be skipped"
      fi
    else
      say "no Java and not root; the Spark engine tests will be skipped"
    fi
  fi
}

ensure_chromium() {
  # Browser tests drive Debian's chromium through Playwright (no browser download).
  if command -v chromium >/dev/null 2>&1; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "dev.sh: installing Debian's chromium for the browser tests" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1; then
      echo "dev.sh: could not install chromium; the browser tests will be skipped" >&2
    fi
  else
    echo "dev.sh: chromium not installed and not root; the browser tests will be skipped" >&2
  fi
}

case "${1:-}" in
  setup)
    ensure_env
    compile_sources
    shift
    say "building the demo project and running its weekly windows (mlmon demo)"
    exec .venv/bin/mlmon demo "$@"
    ;;
  test)
    ensure_env
    ensure_spark
    compile_sources
    ensure_chromium
    shift
    # Two workers, one test file each at a time (the files that start Spark as one, tests/conftest.py):
    # the suite is mostly notebook runs and kernel starts.
    # Files go out in collection order, the longest first (tests/conftest.py: LONGEST_FIRST), so the
    # two workers finish together; xdist's default order (most tests first) sent the longest file last.
    # One OpenMP/BLAS thread per process: two workers (and their kernels) already fill the two
    # cores, and scikit-learn's OpenMP threads spin-waiting for a descheduled partner made
    # tests/test_demo.py take 78 s instead of 13 s on the loaded machine.
    export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
    exec .venv/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder "$@"
    ;;
  *)
    sed -n '2,6p' "$0" >&2
    exit 2
    ;;
esac
