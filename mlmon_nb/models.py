"""Loading model versions and scoring them.

``.skops`` files are loaded with skops' safe loader. skops reports some
scikit-learn internals as untrusted although they hold only arrays (for
example the tree predictor of HistGradientBoosting); those are accepted from
:data:`SKOPS_ALLOWLIST`, which was reviewed type by type. Any other untrusted
type is refused with the list of types found, unless the version entry says
``trusted: true``. ``.joblib``/``.pkl`` files are pickles, which can run code
on load: they are refused without ``trusted: true``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .config import FeaturesConfig, ModelConfig, VersionConfig
from .errors import DataError, ModelError
from .files import sha256_file, write_atomic

logger = logging.getLogger(__name__)

#: Types skops marks untrusted that mlmon_nb accepts without ``trusted: true``.
#: Each one is a plain data holder of scikit-learn or numpy (no code runs when
#: it is rebuilt); review any addition the same way.
SKOPS_ALLOWLIST = frozenset({
    # Fitted trees of HistGradientBoosting*: node arrays and bin thresholds only.
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # Fitted trees of DecisionTree*/RandomForest*/ExtraTrees*/GradientBoosting*: node arrays only.
    "sklearn.tree._tree.Tree",
})

_PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
SCORE_BATCH_ROWS = 100_000


@dataclass(frozen=True)
class LoadedModel:
    """A model version ready to score."""

    version: str
    path: Path
    sha256: str
    estimator: Any
    task: str
    features: tuple[str, ...] = ()
    #: The types of a ``.skops`` file that skops does not trust, accepted when it was loaded
    #: (:data:`SKOPS_ALLOWLIST` or ``trusted: true``); empty for a pickle.
    untrusted: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        return f"sha256:{self.sha256}"


def model_file_fingerprint(model: ModelConfig, version: VersionConfig) -> str:
    """``sha256:<hex>`` of a version's model file, without loading it.

    Raises
    ------
    ModelError
        When no model file is configured or the file is missing.
    """
    return f"sha256:{sha256_file(_model_path(model, version))}"


def _model_path(model: ModelConfig, version: VersionConfig) -> Path:
    where = f"models.{model.name}.versions.{version.name}.model"
    if version.model is None:
        raise ModelError(f"{where}: no model file configured for version {version.name!r}")
    path = Path(version.model)
    if not path.is_file():
        raise ModelError(f"{where}: model file not found: {path}")
    return path


def load_model(model: ModelConfig, version: VersionConfig) -> LoadedModel:
    """Load the model file of a version.

    Parameters
    ----------
    model : ModelConfig
        The model's configuration (for the task and messages).
    version : VersionConfig
        The version entry naming the file and whether it is trusted.

    Raises
    ------
    ModelError
        When no model file is configured, the file is missing or unreadable,
        or it would need trust the version entry does not give.
    """
    where = f"models.{model.name}.versions.{version.name}.model"
    path = _model_path(model, version)
    suffix = path.suffix.lower()
    untrusted: list[str] = []
    if suffix == ".skops":
        estimator, untrusted = _load_skops(path, where, version.trusted)
    elif suffix in _PICKLE_SUFFIXES:
        _check_trust(where, path, (), version.trusted)
        estimator = _load_pickle(path, where)
    else:
        raise ModelError(f"{where}: {path.name}: expected a .skops, .joblib or .pkl file")
    _check_methods(where, path, type(estimator).__name__, hasattr(estimator, "predict"),
                   hasattr(estimator, "predict_proba"), model.task)
    names = tuple(str(n) for n in getattr(estimator, "feature_names_in_", ()))
    return LoadedModel(version=version.name, path=path, sha256=sha256_file(path), estimator=estimator,
                       task=model.task, features=names, untrusted=tuple(untrusted))


def _check_trust(where: str, path: Path, untrusted: Sequence[str], trusted: bool) -> None:
    """Refuse a pickle, or a skops file holding types nobody reviewed, without ``trusted: true``."""
    if trusted:
        return
    if path.suffix.lower() in _PICKLE_SUFFIXES:
        raise ModelError(
            f"{where}: {path.name} is a pickle, which can run arbitrary code when loaded; "
            f"refusing it without 'trusted: true' in the version entry (or save it with skops)"
        )
    refused = sorted(set(untrusted) - SKOPS_ALLOWLIST)
    if refused:
        raise ModelError(
            f"{where}: {path.name} contains types skops does not trust and mlmon_nb has not "
            f"reviewed: {', '.join(refused)}; add 'trusted: true' to the version if you vouch for it"
        )


def _check_methods(where: str, path: Path, kind: str, predict: bool, predict_proba: bool, task: str) -> None:
    """The estimator can score for ``task``."""
    if not (predict or predict_proba):
        raise ModelError(f"{where}: {path.name} holds a {kind}, which has neither predict nor predict_proba")
    if task != "regression" and not predict_proba:
        raise ModelError(f"{where}: {path.name} ({kind}) has no predict_proba, needed for task {task}")


def _load_skops(path: Path, where: str, trusted: bool) -> tuple[Any, list[str]]:
    """(estimator, the types skops does not trust) of a ``.skops`` file, refused before it is rebuilt."""
    import skops.io as sio  # lazy: skops only for .skops files

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises zipfile/json/KeyError variants for bad files
        raise ModelError(f"{where}: {path} is not a readable skops file ({exc})") from exc
    _check_trust(where, path, untrusted, trusted)
    try:
        return sio.load(path, trusted=list(untrusted)), list(untrusted)
    except Exception as exc:  # a file that lists types but fails to rebuild
        raise ModelError(f"{where}: {path} could not be loaded by skops ({exc})") from exc


# ---------------------------------------------------------------------------- files known to load

#: Where an archive keeps what loading its model files found, one JSON file per file content.
VERIFIED_DIR = Path(".mlmon") / "models"
#: The packages that rebuild a model file: a record made under other versions is not used.
LOADING_PACKAGES = ("scikit-learn", "skops", "joblib", "numpy")


@dataclass(frozen=True)
class VerifiedFile:
    """A model file checked before a run: its fingerprint, and the record to keep when it was loaded."""

    fingerprint: str
    record: dict[str, Any] | None = None

    def keep(self, archive: Path) -> None:
        """Write the record into ``archive`` (best effort: without it the next run loads the file again)."""
        if self.record is None:
            return
        path = Path(archive) / VERIFIED_DIR / f"{self.fingerprint.removeprefix('sha256:')}.json"
        try:
            write_atomic(path, json.dumps(self.record, indent=1, sort_keys=True))
        except OSError as exc:
            logger.info("could not record the model file as loaded in %s: %s", path, exc)


def verify_model_file(model: ModelConfig, version: VersionConfig, archive: Path) -> VerifiedFile:
    """Check that a version's model file loads and can score for the model's task, as :func:`load_model` does.

    Loading a file means importing scikit-learn and skops (1-3 s of a command that
    otherwise only checks its input). A file whose content ``archive`` has seen load
    under the same package versions is not loaded again: its record (the types skops
    does not trust, the estimator's methods) meets the checks that depend on the
    version entry (trust, task) as the loaded file would. The notebooks load the
    file themselves; this decides exit 2 before a kernel starts.

    Raises
    ------
    ModelError
        The errors of :func:`load_model`.
    """
    where = f"models.{model.name}.versions.{version.name}.model"
    path = _model_path(model, version)
    digest = sha256_file(path)
    record = _read_record(Path(archive) / VERIFIED_DIR / f"{digest}.json", path)
    if record is not None:
        _check_trust(where, path, record["untrusted"], version.trusted)
        _check_methods(where, path, record["estimator"], record["predict"], record["predict_proba"], model.task)
        return VerifiedFile(fingerprint=f"sha256:{digest}")
    loaded = load_model(model, version)
    est = loaded.estimator
    return VerifiedFile(fingerprint=loaded.fingerprint, record={
        "sha256": loaded.sha256, "suffix": path.suffix.lower(), "packages": _loading_packages(),
        "untrusted": sorted(loaded.untrusted), "estimator": type(est).__name__,
        "predict": hasattr(est, "predict"), "predict_proba": hasattr(est, "predict_proba")})


def _read_record(path: Path, model_file: Path) -> dict[str, Any] | None:
    """The record at ``path`` when it is whole and was made for this kind of file under today's packages."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fields = {"suffix": str, "packages": dict, "untrusted": list, "estimator": str, "predict": bool,
              "predict_proba": bool}
    if not isinstance(record, dict) or not all(isinstance(record.get(k), t) for k, t in fields.items()):
        logger.info("ignoring the damaged model record %s", path)
        return None
    if record["suffix"] != model_file.suffix.lower() or record["packages"] != _loading_packages():
        return None
    return record


def _loading_packages() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in LOADING_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _load_pickle(path: Path, where: str) -> Any:
    import joblib  # lazy: joblib only for trusted pickles

    try:
        return joblib.load(path)
    except Exception as exc:  # unpickling raises arbitrary errors for bad files
        raise ModelError(f"{where}: {path} could not be unpickled ({type(exc).__name__}: {exc})") from exc


def model_input(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The feature columns as a model expects them: categoricals as strings."""
    X = frame.loc[:, list(columns)].copy()
    for name in X.columns:
        if isinstance(X[name].dtype, pd.CategoricalDtype):
            X[name] = X[name].astype(object).where(X[name].notna(), None)
    return X


def score(model: LoadedModel, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> np.ndarray:
    """Score rows with a model.

    Parameters
    ----------
    model : LoadedModel
        The loaded version.
    frame : DataFrame
        Rows holding at least the model's feature columns.
    columns : sequence of str, optional
        Feature columns; defaults to the names the estimator was fitted on.

    Returns
    -------
    ndarray
        Binary: probability of the positive class, shape (n,). Multiclass:
        class probabilities, shape (n, k). Regression: predictions, shape (n,).

    Raises
    ------
    ModelError
        When the model cannot score these rows.
    """
    cols = list(columns) if columns is not None else list(model.features)
    if not cols:
        raise ModelError(f"model version {model.version}: the estimator does not record its feature "
                         f"names; pass the feature columns")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ModelError(f"model version {model.version}: columns missing for scoring: {', '.join(missing)}")
    parts = []
    # In batches: preprocessing (e.g. dense one-hot columns) of a million rows at once would
    # need several GB; batches keep the peak bounded at the same speed.
    for start in range(0, len(frame), SCORE_BATCH_ROWS):
        X = model_input(frame.iloc[start:start + SCORE_BATCH_ROWS], cols)
        try:
            if model.task == "regression":
                parts.append(np.asarray(model.estimator.predict(X), dtype=float))
            else:
                parts.append(np.asarray(model.estimator.predict_proba(X), dtype=float))
        except Exception as exc:  # estimators raise many error types for bad input
            raise ModelError(f"model version {model.version} ({model.path.name}) failed to score: {exc}") from exc
    if not parts:
        return np.empty((0,) if model.task != "multiclass_classification" else (0, 0))
    if model.task == "regression":
        return np.concatenate(parts)
    proba = np.concatenate(parts)
    if model.task == "binary_classification":
        return proba[:, 1]
    return proba


def score_column(model: LoadedModel, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> np.ndarray:
    """One number per row, comparable with the baseline's ``__prediction__``: :func:`score`'s
    output, a multiclass model's top-class probability.

    The one scoring function of every path: the in-memory window, each batch of a scored scan
    (:mod:`mlmon_nb.engines.scoring`, on DuckDB and on Spark's executors).
    """
    p = np.asarray(score(model, frame, columns), dtype=float)
    if p.ndim == 2:
        return p.max(axis=1) if p.shape[0] and p.shape[1] else np.zeros(p.shape[0])
    return p


def load_model_bytes(data: bytes, *, name: str, version: str, task: str, sha256: str,
                     trusted_types: Sequence[str] = ()) -> LoadedModel:
    """A model from the bytes of its file, already accepted by :func:`load_model` elsewhere (a Spark
    executor rebuilding the driver's model).

    Parameters
    ----------
    data : bytes
        The model file's content.
    name : str
        The file's name (its suffix chooses skops or joblib; messages name it).
    version, task : str
        As the driver's :class:`LoadedModel`.
    sha256 : str
        The hex digest the driver loaded: bytes that differ are refused.
    trusted_types : sequence of str
        The skops types the driver accepted (its allowlist, or all with ``trusted: true``).

    Raises
    ------
    ModelError
        Bytes that are not the driver's file, or that do not load.
    """
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise ModelError(f"model version {version} ({name}): the shipped file's sha256 is {got}, "
                         f"expected {sha256}")
    try:
        if name.lower().endswith(".skops"):
            import skops.io as sio  # lazy: skops only for .skops files

            estimator = sio.loads(data, trusted=list(trusted_types))
        else:
            import joblib  # lazy: joblib only for trusted pickles

            estimator = joblib.load(io.BytesIO(data))
    except Exception as exc:  # loaders raise many error types for bad bytes
        raise ModelError(f"model version {version} ({name}) could not be loaded from its shipped bytes "
                         f"({type(exc).__name__}: {exc})") from exc
    names = tuple(str(n) for n in getattr(estimator, "feature_names_in_", ()))
    return LoadedModel(version=version, path=Path(name), sha256=sha256, estimator=estimator, task=task,
                       features=names)


def predictions(frame: pd.DataFrame, model_cfg: ModelConfig, loaded: LoadedModel | None,
                features: FeaturesConfig) -> tuple[np.ndarray, str]:
    """The version's predictions on reference rows: scored with its model file when there is one."""
    cols = list(loaded.features) if loaded is not None and loaded.features else [*features.numeric, *features.categorical]
    if loaded is not None:
        return score(loaded, frame, cols), "scored with the version's model file"
    if model_cfg.prediction in frame.columns:
        return frame[model_cfg.prediction].to_numpy(dtype=float), f"logged column {model_cfg.prediction!r}"
    raise DataError(f"models.{model_cfg.name}.reference: no model file and no prediction column "
                    f"{model_cfg.prediction!r}: cannot know the version's predictions")
