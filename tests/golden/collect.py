"""Collect the decisions of a demo archive: every run's checks and verdict sentences.

Used by ``tests/test_golden.py`` to compare the demo's behaviour with the committed
``demo_decisions.json``; run as a script to regenerate that file after an intended change::

    .venv/bin/python tests/golden/collect.py --build /tmp/golden-demo > tests/golden/demo_decisions.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SCALE = 0.25
WEEKS = 10
SEED = 0


def collect(archive: Path) -> dict:
    """``{"<start>_<end>": {"status", "notebooks": {nb: {"status", "verdict"}}, "checks": [...]}}``."""
    out: dict[str, dict] = {}
    for summary_path in sorted(archive.glob("*/*/*_*/*/summary.json")):
        summary = json.loads(summary_path.read_text())
        window = summary_path.parent.parent.name
        notebooks = {name: {"status": nb["status"], "verdict": nb.get("verdict")}
                     for name, nb in sorted(summary["notebooks"].items())}
        checks = sorted(
            [c["notebook"], c["kind"], c["subject"], c.get("method"), c["status"]]
            for c in summary["checks"]
        )
        out[window] = {"status": summary["status"], "verdict": summary.get("verdict"), "notebooks": notebooks,
                       "checks": [list(map(lambda v: "" if v is None else str(v), c)) for c in checks]}
    return out


def build(folder: Path) -> Path:
    """Build the demo at the golden scale, run its baseline and every week; return the archive."""
    from mlmon_nb.demo import build_demo
    from mlmon_nb.runner import execute_baseline, execute_plan, prepare_baseline, prepare_window_run

    project = build_demo(folder, scale=SCALE, weeks=WEEKS, seed=SEED)
    outcome = execute_baseline(prepare_baseline(project.project_path, project.model, project.version))
    if outcome.exit_code != 0:
        raise RuntimeError(f"baseline failed: {outcome.run_dir}")
    for start, end in project.windows:
        plan = prepare_window_run(project.project_path, project.model, project.version,
                                  f"{start.isoformat()}/{end.isoformat()}", None, {})
        execute_plan(plan, fail_on="never")
    return project.project_path.parent / "reports"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", type=Path, help="build the demo in this (new) folder first")
    parser.add_argument("--archive", type=Path, help="collect from an existing archive")
    args = parser.parse_args()
    archive = build(args.build) if args.build else args.archive
    json.dump(collect(archive), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
