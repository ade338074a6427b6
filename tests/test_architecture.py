"""The package's shape (docs/DESIGN.md, "Layers"): checked from the source with ast, no import.

- no import cycle between mlmon_nb modules (top-level or function-local imports alike);
- the low layer imports nothing above it; ``plots`` imports only the low layer;
- areas import the low layer, plots and only the other areas named in AREA_DEPENDENCIES;
- function-local imports of mlmon_nb modules only in the run layer (to keep ``mlmon`` fast);
  every function-local import carries a one-line reason (a comment on its line or just above);
- no module over 800 lines.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "mlmon_nb"
LOW = {"errors", "alertable", "engines", "chunks", "config", "yamlschema", "windows", "redact", "rules", "stats",
       "metrics", "profiles", "provenance", "sparkenv", "data", "models", "checks", "display", "baseline", "resources",
       "files", "journal", "expressions", "parameters", "sources", "diagnosis", "preflight", "shape", "multitest",
       "kolmogorov", "drawing",
       "summary", "progress", "__init__"}
AREAS = {"drift", "concept", "explain", "feedback", "operations"}
FIT = {"fit"}
AREA_DEPENDENCIES = {"explain": {"drift"}}
MAX_LINES = 800


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@functools.cache  # the source does not change during a test session
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(module: str, path: Path, node: ast.ImportFrom | ast.Import) -> list[str]:
    """Absolute mlmon_nb module names an import statement refers to."""
    known = _modules()
    out = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            base = package[: len(package) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = [prefix] + [f"{prefix}.{a.name}" for a in node.names]
    for name in names:
        if not name.startswith("mlmon_nb"):
            continue
        # the longest known module the name starts with
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            out.append(name)
    return out


def _area(module: str) -> str:
    """The unit a module belongs to: 'low', 'plots', an area name, 'fit' or 'run'."""
    parts = module.split(".")
    if len(parts) == 1:
        return "low"  # the package itself: lazy re-exports only
    top = parts[1]
    if top in LOW:
        return "low"
    if top == "plots":
        return "plots"
    if top in AREAS:
        return top
    if top in FIT:
        return "fit"
    return "run"


@functools.cache
def _imports() -> tuple[tuple[str, str, bool, int, Path], ...]:
    """(importer, imported, local, line, path) for every mlmon_nb import."""
    edges = []
    for module, path in _modules().items():
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(module, path, node):
                    if target != module:
                        edges.append((module, target, id(node) not in top and not _in_type_checking(tree, node),
                                      node.lineno, path))
    return tuple(edges)


def _in_type_checking(tree: ast.Module, node: ast.AST) -> bool:
    for n in tree.body:
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
            if any(node is c for c in ast.walk(n)):
                return True
    return False


def test_no_import_cycle():
    graph: dict[str, set[str]] = {}
    for src, dst, _, _, _ in _imports():
        if dst == "mlmon_nb":  # `from . import __version__` and the lazy package namespace
            continue
        if src.startswith(dst + "."):  # a submodule importing its own package's __init__
            continue
        graph.setdefault(src, set()).add(dst)
    seen: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(n: str) -> None:
        seen[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if seen.get(m) == 1:
                cycles.append(stack[stack.index(m):] + [m])
            elif m not in seen:
                visit(m)
        stack.pop()
        seen[n] = 2

    for n in sorted(graph):
        if n not in seen:
            visit(n)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


ALLOWED = {
    "low": {"low"},
    "plots": {"low", "plots"},
    "fit": {"low", "plots", "fit", *AREAS},
    "run": {"low", "plots", "fit", "run", *AREAS},
}


def test_layers():
    wrong = []
    for src, dst, _, line, path in _imports():
        a, b = _area(src), _area(dst)
        if dst == "mlmon_nb":
            continue
        if a in AREAS:
            ok = b in {"low", "plots", a} | AREA_DEPENDENCIES.get(a, set())
        else:
            ok = b in ALLOWED[a]
        if not ok:
            wrong.append(f"{path.relative_to(ROOT.parent)}:{line}: {src} ({a}) imports {dst} ({b})")
    assert not wrong, "\n".join(wrong)


def test_local_imports_of_the_package_only_in_the_run_layer():
    wrong = [f"{path.relative_to(ROOT.parent)}:{line}: {src} imports {dst} inside a function"
             for src, dst, local, line, path in _imports()
             if local and _area(src) != "run" and dst != "mlmon_nb"]
    assert not wrong, "\n".join(wrong)


def test_every_function_local_import_says_why():
    missing = []
    for module, path in _modules().items():
        text = path.read_text().splitlines()
        tree = ast.parse("\n".join(text))
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top \
                    and not _in_type_checking(tree, node):
                line = text[node.lineno - 1]
                above = text[node.lineno - 2].strip() if node.lineno > 1 else ""
                if "#" not in line and not above.startswith("#"):
                    missing.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: {line.strip()}")
    assert not missing, "function-local imports without a reason:\n" + "\n".join(missing)


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_size(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT.parent)} has {n} lines (max {MAX_LINES}): split it by topic"


def test_every_alertable_name_is_known_to_its_area():
    """The one table of names agrees with the registries that decide on them."""
    from mlmon_nb import alertable, stats

    assert sorted(alertable.STATISTICS) == sorted(stats.REGISTRY)
    assert set(alertable.HIGHER_IS_BETTER) == set(alertable.METRICS["performance"])


def test_plots_names_resolve_to_their_area_functions():
    """mlmon_nb.plots imports its areas on first use: every name of an area's __all__ is reachable
    as ``mn.plots.<name>`` and is that area's object (not a module of the same name)."""
    import importlib

    from mlmon_nb import plots

    for area in plots.AREAS:
        module = importlib.import_module(f"mlmon_nb.plots.{area}")
        for name in module.__all__:
            assert getattr(plots, name) is getattr(module, name), f"plots.{name}"


def test_opening_a_window_imports_no_scipy():
    """A kernel's first modules (kernels.FIRST_MODULES: what open_window needs) leave scipy to the
    notebook's later modules, which import it while the window is read."""
    import subprocess
    import sys

    from mlmon_nb.kernels import FIRST_MODULES

    code = f"import importlib, sys; [importlib.import_module(m) for m in {list(FIRST_MODULES)!r}]; " \
           "print(sorted(m for m in sys.modules if m == 'scipy' or m.startswith('sklearn')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
