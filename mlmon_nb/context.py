"""What a window notebook opens first: project, model version, window and data.

A notebook's parameters cell names a project file, a model, a version and a
window; :func:`open_window` loads and checks all of them in one call and
returns a :class:`WindowContext` the rest of the notebook works from.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd

from . import baseline as bl, progress
from .checks import Recorder, read_notebook_result
from .config import FeaturesConfig, ModelConfig, Project, Thresholds, VersionConfig, load_project
from .windows import parse_window
from .data import Table, read_reference, read_window
from .errors import DataError
from .sources import connect, quote, resolve_source
from .summary.limits import SUMMARISE_ABOVE, SUMMARY_NOTEBOOKS
from .kernels import wait_for_preload
from .models import LoadedModel, load_model

if TYPE_CHECKING:
    from .baseline import Baseline

logger = logging.getLogger(__name__)


@dataclass
class WindowContext:
    """A model version, a window of its logs, its reference and a check recorder."""

    project: Project
    model: ModelConfig
    version: VersionConfig
    start: dt.datetime
    end: dt.datetime
    current: Table
    reference: Table
    recorder: Recorder
    baseline: "Baseline"
    work_dir: Path | None = None
    notes: list[str] = field(default_factory=list)
    #: Loads the version's model file on first use of :attr:`estimator` (None: no model file).
    estimator_loader: Callable[[], LoadedModel | None] | None = field(default=None, repr=False)
    #: Summary mode: the engine's scan of the window (its rows are not in :attr:`current`); None in memory mode.
    scan: Any = field(default=None, repr=False)
    #: The engine the scan belongs to (kept open while the context lives).
    engine: Any = field(default=None, repr=False)

    @cached_property
    def estimator(self) -> LoadedModel | None:
        """The version's model, loaded on first use (notebooks that read logged scores never pay for it)."""
        return self.estimator_loader() if self.estimator_loader else None

    @property
    def frame(self):
        """The window's rows (a DataFrame). In summary mode (:attr:`scan` set) they are read now, in full:
        analyses with a summary path never ask for them."""
        if self.scan is not None and self.current.frame.empty and self.rows:
            logger.warning("reading all %s rows of a window opened in summary mode into memory", f"{self.rows:,}")
            self.current.frame = read_window(self.model, self.start, self.end,
                                             version=self.version.name if self.model.version_column else None).frame
        return self.current.frame

    @property
    def rows(self) -> int:
        """The window's rows (counted by the engine in summary mode)."""
        return int(self.scan.rows) if self.scan is not None else len(self.current)

    def artefact(self, notebook: str) -> dict[str, Any]:
        """Artefacts an earlier notebook of the same run recorded (empty when none)."""
        if self.work_dir is None:
            return {}
        return read_notebook_result(self.work_dir / f"{notebook}.json").get("artefacts", {})

    @property
    def features(self) -> FeaturesConfig:
        return self.current.features

    @property
    def thresholds(self) -> Thresholds:
        """The model's validated ``thresholds`` block (:class:`mlmon_nb.config.Thresholds`)."""
        return self.model.thresholds

    def _repr_html_(self) -> str:
        e = html.escape
        feats = self.features
        rows = [
            ("model / version", f"{self.model.name} / {self.version.name} ({self.model.task})"),
            ("window", f"{self.start.isoformat()} → {self.end.isoformat()} (end excluded)"),
            ("window rows", f"{self.rows:,} ({self.current.labelled_rows:,} labelled)"
             + (" (summarised by the engine; not read into memory)" if self.scan is not None else "")),
            ("reference rows", f"{len(self.reference):,}" if len(self.reference) else
             f"{self.baseline.manifest['reference']['rows']:,} (held by the baseline; rows not read)"),
            ("baseline", f"{self.baseline.baseline_id}" + ("" if self.baseline.path else " (fitted in memory, not archived)")),
            ("features", f"{len(feats.numeric)} numeric, {len(feats.categorical)} categorical"),
            ("logs", str(self.current.source.path)),
        ]
        body = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
        return f"<table class='mlmon-table'>{body}</table>"


def open_window(project: str | Path, model: str, version: str, window: str, *, notebook: str,
                output: str | None = None, work_dir: str | None = None, labels: bool = True,
                load_estimator: bool = True, baseline_id: str | None = None,
                reference_rows: bool = True, summarise: bool | None = None) -> WindowContext:
    """Load everything a window notebook needs.

    Parameters
    ----------
    project : str or Path
        Path of mlmon.yaml.
    model, version : str
        The model and version to analyse.
    window : str
        ``START/END`` (ISO dates or datetimes; END excluded).
    notebook : str
        The calling notebook's machine name (for its checks).
    output : str, optional
        Where the recorder writes its JSON (set by the runner).
    work_dir : str, optional
        The run's artefact folder (set by the runner).
    labels : bool
        Join late labels.
    load_estimator : bool
        Make the version's model file available as ``ctx.estimator`` (loaded on first
        use, when one is configured).
    baseline_id : str, optional
        Which archived baseline to compare with; the newest when omitted. In
        JupyterLab without any archived baseline one is fitted in memory.
    reference_rows : bool
        Read the reference rows into ``ctx.reference.frame``. Notebooks that
        compare only with the baseline pass False: ``ctx.reference`` then
        holds no rows (its source and the baseline's fingerprint are kept),
        which saves reading the whole reference again.
    summarise : bool, optional
        Summary mode: open an engine scan of the window (``ctx.scan``) instead of reading its rows,
        for notebooks whose analysis has a summary path (:data:`mlmon_nb.summary.SUMMARY_NOTEBOOKS`:
        every window notebook). None (default): when the window has more than
        :data:`mlmon_nb.summary.SUMMARISE_ABOVE` rows or the model's engine is not DuckDB. False:
        always read the rows; True: always summarise.

    Raises
    ------
    MlmonError
        On any bad input, with a message naming what and where.
    """
    proj = load_project(project)
    mcfg = proj.model(model)
    vcfg = proj.version(model, version)
    start, end = parse_window(window)
    con = connect()
    scan, engine = None, None
    if summarise is not False and notebook in SUMMARY_NOTEBOOKS:
        scan, engine = _summary_scan(proj, mcfg, vcfg, start, end, labels=labels, force=bool(summarise))
        if scan is not None:  # long passes report how far they got, for the mlmon command to print
            scan.progress = progress.Reporter(work_dir or None, notebook)
    if scan is None:
        current = read_window(mcfg, start, end, version=vcfg.name if mcfg.version_column else None,
                              labels=labels, con=con)
    else:
        current = _scanned(scan, mcfg, start, end)
    reference = read_reference(mcfg, con=con) if reference_rows else None
    loader = (lambda: load_model(mcfg, vcfg)) if load_estimator and vcfg.model is not None else None
    notes = []
    if baseline_id or bl.latest_baseline_id(proj, mcfg.name, vcfg.name):
        base = bl.load_baseline(proj, mcfg.name, vcfg.name, baseline_id)
    elif output:
        # Headless runs must compare with an archived baseline (the runner checks this first).
        base = bl.load_baseline(proj, mcfg.name, vcfg.name)
    else:
        from . import fit as fitting  # lazy: scikit-learn only when no archived baseline exists

        logger.warning("no archived baseline for %s/%s: fitting one in memory", mcfg.name, vcfg.name)
        base = fitting.fit(proj, mcfg.name, vcfg.name, con=con)
        notes.append("No archived baseline: one was fitted in memory for this session.")
    if reference is None:
        ref_meta = base.manifest.get("reference") or {}
        ref_fingerprint = str(ref_meta.get("fingerprint", ""))
        reference = Table(frame=pd.DataFrame(), fingerprint_of=lambda: ref_fingerprint,
                          source=resolve_source(mcfg.reference, f"models.{mcfg.name}.reference"),
                          labelled_rows=int(ref_meta.get("labelled_rows") or 0), features=current.features)
    wait_for_preload()  # a warm kernel's background imports overlapped the reads above; now they are done
    return WindowContext(project=proj, model=mcfg, version=vcfg, start=start, end=end,
                         current=current, reference=reference, baseline=base,
                         recorder=Recorder(notebook, output or None), estimator_loader=loader,
                         work_dir=Path(work_dir) if work_dir else None, notes=notes, scan=scan, engine=engine)


def _summary_scan(proj: Project, mcfg: ModelConfig, vcfg: VersionConfig, start, end, *, labels: bool, force: bool):
    """(scan, engine) when the window is to be summarised, else (None, None) (the engine closed)."""
    from .engines import engine_for  # lazy: the engines (and Spark's client) only for the notebooks that summarise

    engine = engine_for(proj, mcfg)
    scan = engine.window(mcfg, start, end, version=vcfg.name if mcfg.version_column else None, labels=labels)
    if force or engine.name != "duckdb" or scan.rows > SUMMARISE_ABOVE:
        if scan.rows == 0:
            engine.close()
            read_window(mcfg, start, end, version=vcfg.name if mcfg.version_column else None, labels=labels)
            raise DataError(f"no rows in window [{start.isoformat()}, {end.isoformat()}) of models.{mcfg.name}.logs")
        logger.info("summary mode: %s rows of %s on %s", f"{scan.rows:,}", mcfg.name, engine.name)
        return scan, engine
    engine.close()
    return None, None


def _scanned(scan, mcfg: ModelConfig, start, end) -> Table:
    """The window's Table in summary mode: no rows, its counts from one small aggregation."""
    target = mcfg.target if mcfg.target in scan.columns else None
    labelled = f"count({quote(target)})" if target else "0"
    counts = scan.aggregate(f"SELECT count(*) AS n, {labelled} AS l FROM window_rows")
    features = getattr(scan, "features", None) or mcfg.features
    relation = getattr(scan, "relation", None)
    source = resolve_source(mcfg.logs, f"models.{mcfg.name}.logs") if relation is None or \
        isinstance(mcfg.logs, Path) else relation
    return Table(frame=pd.DataFrame(), fingerprint_of=lambda: "", source=source, start=start, end=end,
                 labelled_rows=int(counts.column("l")[0].as_py() or 0), features=features)
