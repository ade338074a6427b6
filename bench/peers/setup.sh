#!/usr/bin/env bash
# Create bench/.peers/venv (git-ignored) with the peer tools the data-drift benchmark compares against.
# Usage: bash bench/peers/setup.sh [python]   (default: the python3 on PATH; 3.10-3.12 work for both peers)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.peers/venv"
python="${1:-python3}"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
"$venv/bin/python" - <<'PY'
from importlib import metadata
for name in ("evidently", "nannyml", "pandas", "numpy", "scikit-learn"):
    try:
        print(f"{name} {metadata.version(name)}")
    except metadata.PackageNotFoundError:
        print(f"{name} NOT INSTALLED")
PY
