"""The dependency lists stay in step: pyproject.toml and environment.yml name the same packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"duckdb": "python-duckdb", "matplotlib": "matplotlib-base", "jupyter-client": "jupyter_client",
               "jupyter-core": "jupyter_core",
               "fastjsonschema": "python-fastjsonschema"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ]", req, 1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d): d for d in env["dependencies"] if isinstance(d, str)}
    for req in project["dependencies"]:
        name = CONDA_NAMES.get(_name(req), _name(req))
        assert name in conda, f"environment.yml lacks {name}"
        bounds = req[len(_name(req)):]
        assert conda[name].endswith(bounds), f"{name}: pyproject {bounds!r} vs environment.yml {conda[name]!r}"


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```", 2)[1]
    commands = [line for line in block.splitlines()[1:] if line.strip()]
    assert len(commands) == 2
    ci = (ROOT / ".ci/run").read_text()
    assert commands[1].strip() in ci
