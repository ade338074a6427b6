"""Quick check of one area against the golden decisions, on a demo whose baseline is archived.

For refactoring one area: runs the given notebook (plus the notebooks whose artefacts it reads)
on every demo week of a copy of ``--demo`` (a demo folder built by ``collect.py --build``; only
its data, models, mlmon.yaml and baseline are used) and compares that notebook's checks, status
and verdict with ``demo_decisions.json``. About a minute per notebook::

    .venv/bin/python tests/golden/check_area.py --demo /tmp/golden-demo -n data_drift
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from collect import collect  # noqa: E402

NEEDS = {"explainability": ["data_drift", "concept_drift"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", type=Path, required=True)
    parser.add_argument("-n", "--notebook", required=True)
    parser.add_argument("--expected", type=Path, default=HERE / "demo_decisions.json")
    args = parser.parse_args()
    from mlmon_nb.runner import execute_plan, prepare_window_run

    expected = json.loads(args.expected.read_text())
    nb = args.notebook
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "demo"
        root.mkdir()
        for name in ("data", "models", "mlmon.yaml", "ground_truth.json"):
            src = args.demo / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
        for baseline in args.demo.glob("reports/*/*/baseline"):
            shutil.copytree(baseline, root / baseline.relative_to(args.demo))
        model_dir = next(root.glob("reports/*/*/baseline")).parent
        model, version = model_dir.parent.name, model_dir.name
        for window in sorted(expected):
            start, end = window.split("_")
            plan = prepare_window_run(root / "mlmon.yaml", model, version, f"{start}/{end}",
                                      [*NEEDS.get(nb, []), nb], {})
            execute_plan(plan, fail_on="never")
        got = collect(root / "reports")
    problems = 0
    for window, exp in sorted(expected.items()):
        g = got.get(window)
        if g is None:
            print(f"{window}: no run"); problems += 1; continue
        e_nb, g_nb = exp["notebooks"].get(nb), g["notebooks"].get(nb)
        if e_nb != g_nb:
            problems += 1
            print(f"{window}: notebook differs\n  expected {e_nb}\n  got      {g_nb}")
        e_checks = [c for c in exp["checks"] if c[0] == nb]
        g_checks = [c for c in g["checks"] if c[0] == nb]
        if e_checks != g_checks:
            problems += 1
            missing = [c for c in e_checks if c not in g_checks]
            extra = [c for c in g_checks if c not in e_checks]
            print(f"{window}: checks differ\n  expected only: {missing}\n  got only: {extra}")
    print(f"{nb}: {'identical' if not problems else f'{problems} differences'} over {len(expected)} windows")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
