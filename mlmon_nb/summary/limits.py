"""When a window is summarised instead of read (no imports: :func:`mlmon_nb.open_window` reads these first)."""

SUMMARISE_ABOVE = 2_000_000
"""A window with more rows than this is summarised by its engine instead of read into memory
(:func:`mlmon_nb.open_window`; on an engine other than DuckDB, always)."""
SUMMARY_NOTEBOOKS = frozenset({"data_drift", "concept_drift", "explainability", "operations", "feedback_loops"})
"""Notebooks whose analysis has a summary path."""
