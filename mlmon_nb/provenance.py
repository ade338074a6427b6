"""Provenance: what a report's numbers were made with (package versions)."""

from __future__ import annotations

import platform
from importlib import metadata

from . import __version__

PACKAGES = ("mlmon-nb", "pandas", "numpy", "scipy", "scikit-learn", "duckdb", "papermill",
            "nbconvert", "matplotlib", "skops", "river", "shap")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a report's numbers."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name == "mlmon-nb":
                out[name] = __version__
    return out
