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

ensure_env() {
  local stamp=.venv/.mlmon-installed
  if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then
    return
  fi
  local py; py=$(pick_python)
  echo "dev.sh: creating .venv with $py and installing mlmon-nb" >&2
  "$py" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  .venv/bin/python -c "from mlmon_nb.kernels import ensure_kernel; ensure_kernel()"
  touch "$stamp"
}

compile_sources() {
  # The package is installed editable, so pip did not byte-compile it; with PYTHONDONTWRITEBYTECODE
  # set (as on CI) every process would compile it again. Only changed files are recompiled.
  .venv/bin/python -m compileall -q mlmon_nb >/dev/null
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
    exec .venv/bin/mlmon demo "$@"
    ;;
  test)
    ensure_env
    compile_sources
    ensure_chromium
    shift
    # Two workers, one test file each at a time: the suite is mostly notebook runs and kernel starts.
    exec .venv/bin/python -m pytest -q -n 2 --dist loadfile "$@"
    ;;
  *)
    sed -n '2,6p' "$0" >&2
    exit 2
    ;;
esac
