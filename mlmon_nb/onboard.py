"""A newcomer's first commands: ``mlmon init`` proposes a project file from a reference file, the
logs and a model file; ``mlmon check`` (:func:`check`) checks a project without running anything.

What is inferred, and from what (every guess is printed, the doubtful ones marked for review):

- **features**: the model file's input names (``feature_names_in_``) when given, else every
  column of the reference but the timestamp, prediction, target and id-like ones; numeric or
  categorical by type (numbers are numeric, text and booleans categorical); text with nearly one
  value per row and numbers named like ids (``id``, ``user_id``, ``uuid``) are ids, not features.
- **task**: the model's classes when it has ``predict_proba`` (2: binary, more: multiclass; none:
  regression), else the target: 2 values binary, a few (3 to 50) whole or text values
  multiclass, a float or many values regression.
- **timestamp**: a date/time column of the logs (else of the reference); **prediction**: a column
  of the logs named like score, prediction, proba...; **target**: a column named like label,
  target, y, clicked..., else the one column of the reference that is not a model input.

The file is checked with :func:`mlmon_nb.config.load_project` before it is written, and never
replaces an existing file.

``check`` is :func:`mlmon_nb.preflight.check_project` (config, files, columns, logs, reference
minimum: no pandas, a few tenths of a second), then, when that found nothing, a binary target's
values and each version's model file, loaded with the safe loader and fed a few reference rows
(importing scikit-learn: a second or two).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import duckdb
import yaml

from .config import NAME_PATTERN, ModelConfig, VersionConfig, load_project
from .errors import DataError, MlmonError, ModelError, UsageError
from .preflight import (MIN_REFERENCE_ROWS, PICKLE_SUFFIXES, Inputs, Report, check_project, is_numeric as _is_numeric,
                        is_timestamp as _is_timestamp)
from .sources import Source, connect, describe, friendly_error, quote, resolve_source

logger = logging.getLogger(__name__)

TARGET_NAMES = ("target", "label", "labels", "y", "class", "outcome", "clicked", "click", "converted",
                "conversion", "churn", "churned", "is_fraud", "fraud", "default", "survived", "response",
                "purchased", "y_true")
PREDICTION_NAMES = ("score", "prediction", "predictions", "predicted", "pred", "proba", "probability",
                    "y_pred", "yhat", "y_hat", "model_score", "output")
PREDICTION_WORDS = ("score", "pred", "proba")
TIMESTAMP_NAMES = ("ts", "timestamp", "time", "datetime", "event_time", "event_timestamp", "created_at",
                   "request_time", "date")
ID_NAME = re.compile(r"(^|[_\W])(id|uuid|guid)$|^(id|uuid|guid)([_\W]|$)|^__|^index$", re.IGNORECASE)
POSITIVE_NAMES = ("1", "true", "yes", "y", "positive", "pos")
MAX_CLASSES = 50
"""Most distinct values of a whole-number or text target read as classes (more: regression)."""
PROFILE_ROWS = 100_000
"""Rows of the reference whose distinct values are counted (cardinality needs no more)."""


@dataclass
class Proposal:
    """What ``mlmon init`` inferred: the project file's values, and what the user should review."""

    name: str
    task: str
    timestamp: str
    prediction: str
    target: str
    numeric: list[str]
    categorical: list[str]
    reference: Path
    logs: Path | None
    model: Path | None = None
    trusted: bool = False
    positive_class: str | None = None
    rows: int = 0
    why: dict[str, str] = field(default_factory=dict)
    review: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Columns:
    source: Source
    types: dict[str, str]


def model_name(reference: str | Path) -> str:
    """A model name (``[a-z0-9][a-z0-9._-]{0,63}``) from a reference file's name.

    Examples
    --------
    >>> model_name("data/Breast Cancer (2024).parquet")
    'breast-cancer-2024'
    >>> model_name("data/ref/*.csv.gz")
    'ref'
    >>> model_name("___.csv")
    'model'
    """
    path = Path(str(reference).rstrip("/"))
    base = path.parent.name if any(ch in path.name for ch in "*?[") else path.name
    for suffix in (".gz", ".parquet", ".pq", ".parq", ".csv", ".tsv", ".txt"):
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
    name = re.sub(r"[^a-z0-9._-]+", "-", base.lower())
    name = re.sub(r"^[^a-z0-9]+", "", name)[:64].rstrip("-._")
    return name if re.fullmatch(NAME_PATTERN, name) else "model"


def propose(reference: str | Path, logs: str | Path | None = None, model: str | Path | None = None, *,
            trusted: bool = False, con: duckdb.DuckDBPyConnection | None = None) -> Proposal:
    """Inspect the reference (and the logs and model file when given) and propose a project.

    Raises
    ------
    MlmonError
        When a file cannot be read, or the model file cannot be loaded (pickles need ``trusted``).
    """
    con = con or connect()
    ref = _describe(reference, "reference", con)
    log = _describe(logs, "--logs", con) if logs is not None else None
    loaded = _load(model, trusted) if model is not None else None
    rows, distinct = _profile(ref, con)
    p = Proposal(name=model_name(reference), task="", timestamp="", prediction="", target="", numeric=[],
                 categorical=[], reference=Path(os.path.abspath(reference)), rows=rows,
                 logs=Path(os.path.abspath(logs)) if logs is not None else None,
                 model=Path(os.path.abspath(model)) if model is not None else None, trusted=trusted)
    inputs = list(loaded.features) if loaded is not None else []
    p.timestamp = _timestamp(ref, log, p)
    p.prediction = _prediction(ref, log, p, inputs)
    p.target = _target(ref, p, inputs)
    _task(ref, loaded, p, con)
    _features(ref, distinct, rows, inputs, p)
    if loaded is None and p.task == "multiclass_classification":
        p.review.append("a multiclass model needs its model file (--model): the logs' prediction column holds one "
                        "number per row, the baseline needs every class probability")
    return p


def _describe(path, what: str, con) -> _Columns:
    source = resolve_source(path, what)
    return _Columns(source, describe(source, con))


def _load(model, trusted: bool):
    from .models import load_model  # lazy: scikit-learn only when a model file is given

    path = Path(os.path.abspath(model))
    if path.suffix.lower() in PICKLE_SUFFIXES and not trusted:
        raise UsageError(f"--model {model}: a pickle can run any code when loaded; pass --trusted if you vouch "
                         f"for it (the version is then written with 'trusted: true'), or save the model with skops")
    # Loaded as a regression model: any estimator with predict passes; its classes decide the task.
    cfg = ModelConfig(name="init", task="regression", timestamp="", prediction="", target="",
                      reference=path, logs=path)
    return load_model(cfg, VersionConfig(name="1", model=path, trusted=trusted))


def _profile(ref: _Columns, con) -> tuple[int, dict[str, int]]:
    """Rows of the reference, and distinct values per column in its first rows."""
    rel = ref.source.relation
    try:
        rows = int(con.execute(f"SELECT count(*) FROM {rel}").fetchall()[0][0])
        usable = [c for c, t in ref.types.items() if _is_numeric(t) or t.upper().startswith(("VARCHAR", "ENUM"))]
        if not usable:
            return rows, {}
        counts = con.execute(f"SELECT {', '.join(f'approx_count_distinct({quote(c)})' for c in usable)} "
                             f"FROM (SELECT * FROM {rel} LIMIT {PROFILE_ROWS})").fetchall()[0]
    except duckdb.Error as exc:
        raise friendly_error(exc, ref.source) from exc
    return rows, dict(zip(usable, (int(c) for c in counts)))


def _named(columns: Sequence[str], names: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _timestamp(ref: _Columns, log: _Columns | None, p: Proposal) -> str:
    for table, where in ((log, "the logs"), (ref, "the reference")):
        if table is None:
            continue
        typed = [c for c, t in table.types.items() if _is_timestamp(t)]
        text = [c for c, t in table.types.items() if t.upper().startswith("VARCHAR")]
        found = _named(typed, TIMESTAMP_NAMES) or (typed[0] if typed else None) or _named(text, TIMESTAMP_NAMES)
        if found:
            p.why["timestamp"] = f"{'a date/time' if found in typed else 'a text'} column of {where}"
            if found not in typed:
                p.review.append(f"timestamp {found!r} is text in {where}: check it holds ISO dates/times")
            if log is not None and found not in log.types:
                p.review.append(f"the logs have no {found!r} column: set timestamp to the logs' time column")
            return found
    p.review.append("no date/time column found: set 'timestamp' to the logs' time column (the reference may omit it)")
    p.why["timestamp"] = "a placeholder: no date/time column found"
    return "ts"


def _prediction(ref: _Columns, log: _Columns | None, p: Proposal, inputs: Sequence[str]) -> str:
    for table, where in ((log, "the logs"), (ref, "the reference")):
        if table is None:
            continue
        numbers = [c for c, t in table.types.items() if _is_numeric(t) and c not in inputs]
        found = _named(numbers, PREDICTION_NAMES) or next(
            (c for c in numbers if any(w in c.lower() for w in PREDICTION_WORDS)), None)
        if found:
            p.why["prediction"] = f"a number of {where} named like a model output"
            if log is not None and table is ref:
                p.review.append(f"the logs have no column named like a prediction; {found!r} is the reference's")
            return found
    p.why["prediction"] = "a placeholder: no column named like score/prediction/proba"
    p.review.append("no column named like score/prediction/proba: set 'prediction' to the logs' column holding "
                    "the model's output" + ("" if p.model else " (or give --model: the reference is then scored)"))
    return "prediction"


def _target(ref: _Columns, p: Proposal, inputs: Sequence[str]) -> str:
    candidates = [c for c in ref.types if c not in (p.timestamp, p.prediction) and c not in inputs]
    found = _named(candidates, TARGET_NAMES)
    if found:
        p.why["target"] = "named like a target"
        return found
    rest = [c for c in candidates if not ID_NAME.search(c) and not _is_timestamp(ref.types[c])]
    if inputs and len(rest) == 1:
        p.why["target"] = "the one column of the reference that is not a model input"
        return rest[0]
    p.why["target"] = "a placeholder: no column named like label/target/y"
    p.review.append("no target column found: set 'target' to the ground-truth column (the reference should "
                    "hold it for performance bands; the logs or a labels file may hold it later)")
    return "target"


def _task(ref: _Columns, loaded, p: Proposal, con) -> None:
    classes = getattr(loaded.estimator, "classes_", None) if loaded is not None else None
    if loaded is not None and hasattr(loaded.estimator, "predict_proba") and classes is not None:
        p.task = "binary_classification" if len(classes) == 2 else "multiclass_classification"
        p.why["task"] = f"the model has predict_proba over {len(classes)} classes"
        if len(classes) == 2 and {str(c).lower() for c in classes} - {"0", "1", "true", "false", "0.0", "1.0"}:
            p.positive_class = str(classes[1])
            p.why["positive_class"] = "the model's second class (predict_proba's column 1)"
        if len(classes) > 2 and [str(c) for c in classes] != [str(i) for i in range(len(classes))]:
            p.review.append(f"the model's classes are {', '.join(repr(str(c)) for c in list(classes)[:6])}; a "
                            f"multiclass target holds class indices 0, 1, 2 ... (the columns of predict_proba): "
                            f"train on encoded classes")
        return
    if loaded is not None:
        p.task = "regression"
        p.why["task"] = "the model has predict but no predict_proba"
        return
    if p.target not in ref.types:
        p.task = "binary_classification"
        p.why["task"] = "a placeholder: no target to look at"
        p.review.append("task: set it once the target is known")
        return
    t, dtype = quote(p.target), ref.types[p.target].upper()
    try:
        values = [r[0] for r in con.execute(
            f"SELECT DISTINCT CAST({t} AS VARCHAR) FROM {ref.source.relation} WHERE {t} IS NOT NULL "
            f"LIMIT {MAX_CLASSES + 1}").fetchall()]
        fractional = _is_numeric(dtype) and dtype.split("(")[0] in ("DOUBLE", "FLOAT", "REAL", "DECIMAL") and \
            con.execute(f"SELECT count(*) FROM {ref.source.relation} WHERE {t} <> round({t})").fetchall()[0][0] > 0
    except duckdb.Error as exc:
        raise friendly_error(exc, ref.source) from exc
    if len(values) == 2:
        p.task, p.why["task"] = "binary_classification", f"the target has 2 values ({', '.join(sorted(values))})"
        if {v.lower() for v in values} - {"0", "1", "true", "false", "0.0", "1.0"}:
            pos = _named(values, POSITIVE_NAMES)
            p.positive_class = pos or _minority(ref, p.target, con)
            p.why["positive_class"] = "named like a positive value" if pos else "the rarer of the two values"
            p.review.append(f"positive_class {p.positive_class!r}: the value the prediction is the probability of")
    elif fractional or len(values) > MAX_CLASSES or len(values) < 2:
        p.task = "regression"
        p.why["task"] = ("the target holds fractional numbers" if fractional else
                         f"the target has more than {MAX_CLASSES} values" if len(values) > MAX_CLASSES else
                         "a placeholder: the target has fewer than 2 values")
        if len(values) > MAX_CLASSES and not _is_numeric(dtype):
            p.review.append(f"task: the text target {p.target!r} has over {MAX_CLASSES} values; regression needs numbers")
    else:
        p.task = "multiclass_classification"
        p.why["task"] = f"the target has {len(values)} values"
        if not all(re.fullmatch(r"\d+(\.0+)?", v) for v in values):
            p.review.append(f"the target {p.target!r} holds text classes; a multiclass target holds class indices "
                            f"0, 1, 2 ... (the columns of predict_proba): encode it")


def _minority(ref: _Columns, target: str, con) -> str:
    t = quote(target)
    return str(con.execute(f"SELECT CAST({t} AS VARCHAR) FROM {ref.source.relation} WHERE {t} IS NOT NULL "
                           f"GROUP BY 1 ORDER BY count(*), 1 LIMIT 1").fetchall()[0][0])


def _features(ref: _Columns, distinct: dict[str, int], rows: int, inputs: Sequence[str], p: Proposal) -> None:
    taken = {p.timestamp, p.prediction, p.target}
    names = list(inputs) if inputs else [c for c in ref.types if c not in taken]
    for name in names:
        dtype = ref.types.get(name)
        if dtype is None:
            p.review.append(f"the model is fed {name!r}, which the reference lacks")
            p.numeric.append(name)
            continue
        upper = dtype.upper()
        many = distinct.get(name, 0) > max(50, 0.5 * min(rows, PROFILE_ROWS))
        if not inputs and (ID_NAME.search(name) and (many or not _is_numeric(dtype))):
            p.excluded[name] = "named like an id"
        elif not inputs and upper.startswith(("VARCHAR", "ENUM")) and many:
            p.excluded[name] = f"text with about {distinct[name]:,} distinct values (an id or free text)"
        elif _is_timestamp(dtype):
            p.excluded[name] = "a date/time"
        elif upper.startswith(("VARCHAR", "ENUM")) or upper == "BOOLEAN":
            p.categorical.append(name)
        elif _is_numeric(dtype):
            p.numeric.append(name)
            if not inputs and 0 < distinct.get(name, 0) <= 10 and not upper.startswith(("DOUBLE", "FLOAT", "DECIMAL")):
                p.review.append(f"{name!r} is a whole number with {distinct[name]} values: if it is a code, move it "
                                f"to categorical")
        else:
            p.excluded[name] = f"of type {dtype}"
    p.why["features"] = "the model's inputs (feature_names_in_)" if inputs else \
        "every other column of the reference, by type"
    if not inputs and p.model is not None:
        p.review.append("the model does not record its input names: check features lists exactly its inputs, in order")


# --------------------------------------------------------------------------- mlmon check

SCORED_ROWS = 200
"""Reference rows ``mlmon check`` scores with each model file (enough to catch a column of the wrong type)."""


def check(path, model: str | None = None, version: str | None = None) -> Report:
    """Check a project without running anything: what ``mlmon check`` prints.

    Parameters
    ----------
    path : str or Path
        The project file.
    model, version : str, optional
        Only this model (and version).

    Returns
    -------
    Report
        Problems (exit 2), warnings and facts (the ok report).
    """
    report, project, checked = check_project(path, model, version, purpose="check")
    if project is None:
        return report
    for inputs in checked:
        versions = [version] if version is not None else list(inputs.model.versions)
        with_file = [v for v in versions if inputs.model.versions[v].model is not None]
        if not report.ok:
            # Loading means importing scikit-learn (a second or two): not while other problems need fixing.
            report.warnings.extend(f"models.{inputs.model.name}.versions.{v}.model: not loaded yet; fix the "
                                   f"problems above and check again" for v in with_file
                                   if not any(f".versions.{v}.model" in str(p) for p in report.problems))
            continue
        _check_target(inputs, report)
        for v in versions:
            if v in with_file:
                _check_model_file(inputs, v, report)
            else:
                report.facts.append(f"{inputs.model.name} {v}: no model file: predictions come from the "
                                    f"{inputs.model.prediction!r} column (explainability needs a model file)")
    return report


def _check_target(inputs: Inputs, report: Report) -> None:
    from .data import check_target  # lazy: pandas only once the cheap checks passed

    mcfg, ref = inputs.model, inputs.reference
    if ref is None or not ref.has(mcfg.target):
        return
    con, t = connect(), quote(mcfg.target)
    try:
        check_target(con, mcfg, f"SELECT {t} FROM {ref.source.relation}", ref.source.where)
        if mcfg.task == "multiclass_classification":
            values = [r[0] for r in con.execute(f"SELECT DISTINCT CAST({t} AS VARCHAR) FROM {ref.source.relation} "
                                                f"WHERE {t} IS NOT NULL ORDER BY 1 LIMIT 101").fetchall()]
            if not all(re.fullmatch(r"\d+(\.0+)?", v) for v in values):
                shown = ", ".join(repr(v) for v in values[:6]) + (" ..." if len(values) > 6 else "")
                report.problem(DataError(
                    f"{ref.source.where}: the target {mcfg.target!r} holds {shown}; a multiclass target holds class "
                    f"indices 0, 1, 2 ... (the columns of predict_proba): encode the classes so"))
    except duckdb.Error as exc:
        report.problem(friendly_error(exc, ref.source))
    except MlmonError as exc:
        report.problem(exc)


def _check_model_file(inputs: Inputs, version: str, report: Report) -> None:
    """Load a version's model file and score a few reference rows with it, as the baseline will."""
    from .data import _select_list, _to_frame  # lazy: pandas only once the cheap checks passed
    from .models import load_model, score  # lazy: scikit-learn only once the cheap checks passed

    mcfg, features, ref = inputs.model, inputs.features, inputs.reference
    where = f"models.{mcfg.name}.versions.{version}.model"
    try:
        loaded = load_model(mcfg, mcfg.versions[version])
    except MlmonError as exc:
        report.problem(exc)
        return
    cols = list(loaded.features) or [*features.numeric, *features.categorical]
    unmonitored = [c for c in cols if c not in {*features.numeric, *features.categorical}]
    if unmonitored:
        report.problem(ModelError(f"{where}: {loaded.path.name} is fed {', '.join(repr(c) for c in unmonitored[:5])}, "
                                  f"which models.{mcfg.name}.features does not list; monitor every input of the model"))
        return
    how = "predict" if mcfg.task == "regression" else "predict_proba"
    if ref is not None:
        sql = f"SELECT {', '.join(_select_list(ref.types, cols, features))} FROM {ref.source.relation} LIMIT {SCORED_ROWS}"
        try:
            out = score(loaded, _to_frame(connect().sql(sql), ref.source, None, features), cols)
        except duckdb.Error as exc:
            report.problem(friendly_error(exc, ref.source))
            return
        except MlmonError as exc:
            report.problem(exc)
            return
        classes = getattr(loaded.estimator, "classes_", None)
        if mcfg.task == "multiclass_classification" and classes is not None and \
                [str(c) for c in classes] != [str(i) for i in range(len(classes))]:
            shown = ", ".join(repr(c) for c in list(classes)[:6])
            report.problem(ModelError(f"{where}: {loaded.path.name}'s classes are {shown}; a multiclass target holds "
                                      f"the class indices 0, 1, 2 ... (the columns of predict_proba): train on "
                                      f"encoded classes"))
            return
        if mcfg.task == "multiclass_classification" and out.ndim == 2 and out.shape[1] < 3:
            report.problem(ModelError(f"{where}: {loaded.path.name} gives {out.shape[1]} class probabilities; "
                                      f"task multiclass_classification needs 3 or more (binary_classification?)"))
            return
        if mcfg.task == "binary_classification" and classes is not None and len(classes) != 2:
            report.problem(ModelError(f"{where}: {loaded.path.name} knows {len(classes)} classes; task "
                                      f"binary_classification needs 2 (multiclass_classification?)"))
            return
    report.facts.append(f"{mcfg.name} {version}: model {loaded.path.name} ({type(loaded.estimator).__name__}) "
                        f"loaded; called as {how}(rows[{len(cols)} feature columns])")


# --------------------------------------------------------------------------- the file


def _y(value: Any) -> str:
    """A YAML scalar or flow value, quoted where YAML needs it."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text


def _rel(path: Path, folder: Path) -> str:
    try:
        return os.path.relpath(path, folder)
    except ValueError:  # another drive (Windows)
        return str(path)


def render(p: Proposal, out: Path, command: str = "mlmon init") -> str:
    """The commented project file of a proposal (paths relative to ``out``'s folder)."""
    folder = out.parent
    today = dt.date.today().isoformat()
    lines = [
        f"# Written by `{command}` on {today}. Review the lines marked REVIEW, then run",
        f"#   mlmon check -p {out.name}",
        f"#   mlmon baseline -p {out.name} -m {p.name} -v 1",
        f"#   mlmon run -p {out.name} -m {p.name} -v 1 -w START/END",
        "# Paths are relative to this file; unknown keys are errors.",
        "",
        "# where baselines and reports are archived",
        "archive: reports",
        "models:",
        "  # the model's name (also its folder in the archive): [a-z0-9][a-z0-9._-]{0,63}",
        f"  {p.name}:",
    ]

    def key(name: str, value: Any, comment: str, review: bool = False) -> None:
        lines.append(f"    # {'REVIEW: ' if review else ''}{comment}")
        lines.append(f"    {name}: {_y(value)}")

    placeholder = lambda what: p.why.get(what, "").startswith("a placeholder")  # noqa: E731
    key("task", p.task, f"binary_classification | multiclass_classification | regression; inferred: {p.why['task']}",
        placeholder("task"))
    key("timestamp", p.timestamp, f"time column of the logs (the reference may omit it); {p.why['timestamp']}",
        placeholder("timestamp"))
    out_what = {"binary_classification": "the probability of the positive class",
                "multiclass_classification": "any per-row output: the class probabilities come from the model file",
                "regression": "the predicted value"}[p.task]
    key("prediction", p.prediction, f"column of the logs holding the model's output ({out_what}); "
        f"{p.why['prediction']}", placeholder("prediction"))
    key("target", p.target, f"ground truth (may be null in recent logs); {p.why['target']}", placeholder("target"))
    if p.positive_class is not None:
        key("positive_class", p.positive_class, f"the target value meaning positive; {p.why['positive_class']}", True)
    key("reference", _rel(p.reference, folder), f"baseline data: features + target; {p.rows:,} rows "
        f"(at least {MIN_REFERENCE_ROWS:,} needed)")
    if p.logs is not None:
        key("logs", _rel(p.logs, folder), "production logs: a file, a glob or a folder of parquet/CSV")
    else:
        key("logs", "logs/", "production logs: a file, a glob or a folder of parquet/CSV (not given to init)", True)
    lines.append(f"    # the monitored inputs: {p.why['features']}"
                 + (f"; not monitored: {', '.join(f'{k} ({v})' for k, v in p.excluded.items())}" if p.excluded else ""))
    lines.append("    features:")
    for group, names in (("numeric", p.numeric), ("categorical", p.categorical)):
        if not names:
            lines.append(f"      {group}: []")
            continue
        lines.append(f"      {group}:")
        lines.extend(f"        - {_y(n)}" for n in names)
    call = "predict" if p.task == "regression" else "predict_proba"
    lines.append("    versions:")
    lines.append('      "1":')
    if p.model is not None:
        lines.append(f"        # called as {call}(rows[features]) when scoring the reference and for explainability")
        lines.append(f"        model: {_y(_rel(p.model, folder))}")
        if p.trusted:
            lines.append("        # a pickle: loaded only because you vouched for it (mlmon init --trusted)")
            lines.append("        trusted: true")
    else:
        lines.append("        # no model file: predictions are read from the prediction column (add model: FILE.skops")
        lines.append("        # for explainability); .joblib/.pkl files need trusted: true")
        lines.append("        model:")
    lines += [
        "    # Defaults (uncomment to change):",
        "    # decision_threshold: 0.5          # binary: a score at or above it counts as positive",
        "    # chunk: 1d                        # 'since when' chunks inside a window",
        "    # baseline: {chunks: 20}           # reference chunks the alert bands are learned from (>= 10)",
        "    # baseline: {window: 2026-09-07/2026-09-21}   # a healthy period of the logs, for operations",
        "    # labels: {path: labels/, key: request_id}   # ground truth arriving later, joined by key",
        "    # operational: {latency_ms: latency_ms, error: error_code}",
        "    # segments: [device]               # breakdowns of outcome rate and performance",
        "",
    ]
    return "\n".join(lines)


def write_project(p: Proposal, out: str | Path, command: str = "mlmon init") -> Path:
    """Write the proposal to ``out``, never replacing a file; the text is validated by the project loader first.

    Raises
    ------
    UsageError
        When ``out`` exists.
    """
    out = Path(os.path.abspath(out))
    if out.exists():
        raise UsageError(f"{out} already exists: mlmon init never overwrites a file; "
                         f"remove it or write another one with -o FILE")
    text = render(p, out, command)
    probe = out.with_name(f".{out.name}.mlmon-init-{os.getpid()}")
    try:
        probe.write_text(text, encoding="utf-8")
        load_project(probe)  # the file must load unchanged: a bug here is ours, not the user's
        with open(out, "x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise UsageError(f"{out} already exists: mlmon init never overwrites a file") from None
    finally:
        probe.unlink(missing_ok=True)
    return out


def init(reference: str | Path, out: str | Path = "mlmon.yaml", *, logs: str | Path | None = None,
         model: str | Path | None = None, trusted: bool = False,
         command: str = "mlmon init") -> tuple[Proposal, Path, Report]:
    """Propose, write and check a project file.

    Returns
    -------
    (Proposal, Path, Report)
        What was inferred, the file written and what :func:`mlmon_nb.preflight.check_project`
        found in it (the model file is not loaded again).
    """
    out_path = Path(os.path.abspath(out))
    if out_path.exists():  # before reading anything: the answer does not depend on the data
        raise UsageError(f"{out_path} already exists: mlmon init never overwrites a file; "
                         f"remove it or write another one with -o FILE")
    if not out_path.parent.is_dir():
        raise UsageError(f"-o {out}: folder {out_path.parent} does not exist")
    proposal = propose(reference, logs, model, trusted=trusted)
    written = write_project(proposal, out_path, command)
    return proposal, written, check_project(written)[0]


def describe_proposal(p: Proposal) -> list[str]:
    """Lines saying what was inferred, for the terminal."""
    lines = [f"model {p.name!r} version \"1\": {p.task} ({p.why['task']})",
             f"  timestamp  {p.timestamp!r}: {p.why['timestamp']}",
             f"  prediction {p.prediction!r}: {p.why['prediction']}",
             f"  target     {p.target!r}: {p.why['target']}"]
    if p.positive_class is not None:
        lines.append(f"  positive   {p.positive_class!r}: {p.why['positive_class']}")
    lines.append(f"  features   {len(p.numeric)} numeric, {len(p.categorical)} categorical: {p.why['features']}")
    for name, why in p.excluded.items():
        lines.append(f"  not a feature: {name!r} ({why})")
    lines.append(f"  reference  {p.rows:,} rows (at least {MIN_REFERENCE_ROWS:,} needed)")
    if p.model is not None:
        lines.append(f"  model      {p.model.name}: called as "
                     f"{'predict' if p.task == 'regression' else 'predict_proba'}(rows[features])")
    return lines


__all__ = ["Proposal", "propose", "render", "write_project", "init", "describe_proposal", "model_name"]
