"""Build the demo project: check the arguments, generate the rows, write every file.

:func:`build_demo` writes a complete, seeded monitoring project: a reference
period, weekly production logs, late-arriving labels, two trained model
versions of the CTR model, a second, regression model (:mod:`.delivery`) with
its own data, and the ``mlmon.yaml`` that ties them together, plus
``ground_truth.json``, which records every injected event and the figures
measured from the generated data, so that tests can check that the notebooks
find what was planted. The scenarios are described in :mod:`.scenario` and
:mod:`.delivery.scenario`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import numbers
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlmon_nb.errors import UsageError

from . import delivery, generate, truth, write
from .scenario import (
    EXPOSURE_MODES, LABEL_CUTOFF, LOGS_START, MODEL_NAME, MONITORED_VERSION, REFERENCE_START,
    TRAINING_START, WEEK, us,
)
from .train import feature_frame, train

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoProject:
    """A demo project written by :func:`build_demo`.

    Attributes
    ----------
    root : Path
        The folder holding the project (``out_dir``).
    project_path : Path
        ``root / "mlmon.yaml"``.
    model : str
        The model's name in the project file (``"ctr-ranker"``).
    version : str
        The version the demo monitors (``"2"``).
    windows : tuple of (datetime, datetime)
        The weekly log windows ``[start, end)``, tz-aware UTC.
    ground_truth : dict
        What was planted and what was measured; also in
        ``root / "ground_truth.json"`` (the delivery model's under ``"delivery"``).
    monitored : tuple of (str, str)
        Every ``(model, version)`` the demo monitors: the CTR model's first,
        then the delivery-time regressor's (``("delivery-eta", "1")``).
    """

    root: Path
    project_path: Path
    model: str
    version: str
    windows: tuple[tuple[dt.datetime, dt.datetime], ...]
    ground_truth: dict
    monitored: tuple[tuple[str, str], ...] = ()


def build_demo(
    out_dir: str | os.PathLike,
    *,
    scale: float = 1.0,
    weeks: int = 10,
    seed: int = 0,
    exposure: str = "model",
) -> DemoProject:
    """Write the demo project into ``out_dir``.

    Parameters
    ----------
    out_dir : str or path-like
        Folder to write into; it must be missing or empty. On failure,
        everything written is removed again.
    scale : float, default=1.0
        Traffic multiplier: about ``20_000 * scale`` requests per week.
    weeks : int, default=10
        Number of weekly log windows, starting Monday 2026-09-07.
    seed : int, default=0
        Seed of the only random generator; the same arguments write the same data.
    exposure : {"model", "randomised"}, default="model"
        ``"model"``: the ranker picks most exposures and concentrates them
        (the feedback loop). ``"randomised"``: the control, every exposure is
        uniform at random and ``shown`` is False everywhere.

    Returns
    -------
    DemoProject

    Raises
    ------
    UsageError
        When an argument is invalid.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     demo = build_demo(Path(folder) / "demo", scale=0.01, weeks=2)
    ...     sorted(path.name for path in demo.root.iterdir())
    ['data', 'ground_truth.json', 'mlmon.yaml', 'models']
    >>> demo.model, demo.version, demo.windows[0][0].isoformat()
    ('ctr-ranker', '2', '2026-09-07T00:00:00+00:00')
    >>> demo.ground_truth["drifted_features"]  # week 5 is not generated
    []
    """
    root = _check_arguments(out_dir, scale, weeks, seed, exposure)
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    try:
        return _build(root, float(scale), int(weeks), int(seed), exposure)
    except BaseException:
        # The folder was missing or empty, so everything in it is ours.
        _remove_contents(root, remove_root=created)
        raise


# --------------------------------------------------------------------------
# Arguments.


def _usage(name: str, expected: str, got: Any, why: str = "") -> UsageError:
    return UsageError(
        f"The {name!r} parameter of build_demo must be {expected}. Got {got!r} instead{why}."
    )


def _check_arguments(out_dir, scale, weeks, seed, exposure) -> Path:
    if not isinstance(out_dir, (str, os.PathLike)):
        raise _usage("out_dir", "a str or path-like", out_dir)
    root = Path(out_dir).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise _usage("out_dir", "a missing or empty directory", str(out_dir), ", which is a file")
    if root.is_dir() and any(root.iterdir()):
        raise _usage("out_dir", "a missing or empty directory", str(out_dir),
                     ", which is not empty")
    if (
        isinstance(scale, bool)
        or not isinstance(scale, numbers.Real)
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise _usage("scale", "a float > 0", scale)
    if isinstance(weeks, bool) or not isinstance(weeks, numbers.Integral) or weeks < 1:
        raise _usage("weeks", "an int >= 1", weeks)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise _usage("seed", "an int >= 0", seed)
    if not isinstance(exposure, str) or exposure not in EXPOSURE_MODES:
        modes = ", ".join(repr(mode) for mode in EXPOSURE_MODES)
        raise _usage("exposure", f"a str among {{{modes}}}", exposure)
    return root


def _remove_contents(root: Path, *, remove_root: bool) -> None:
    if remove_root:
        shutil.rmtree(root, ignore_errors=True)
        return
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


# --------------------------------------------------------------------------
# The build.


def _build(root: Path, scale: float, weeks: int, seed: int, exposure: str) -> DemoProject:
    started = time.perf_counter()
    # One generator per concern, so that e.g. the exposure mode changes the
    # items only, while traffic, features and clicks stay identical.
    traffic_rng, feature_rng, exposure_rng, serving_rng, label_rng, model_rng = (
        np.random.default_rng(seed).spawn(6)
    )
    end = LOGS_START + weeks * WEEK
    windows = tuple((LOGS_START + k * WEEK, LOGS_START + (k + 1) * WEEK) for k in range(weeks))

    ts = generate.traffic(traffic_rng, TRAINING_START, end, scale)
    rows = generate.features(feature_rng, ts)
    rows["ts"] = ts
    rows["p_click"] = generate.click_probability(rows)
    rows["clicked"] = feature_rng.random(ts.size) < rows["p_click"]
    rows["user"] = generate.users(feature_rng, ts.size, scale)
    rows["item"], rows["shown"] = generate.exposures(exposure_rng, ts, end, exposure)
    logger.info("generated %d requests in %.1fs", ts.size, time.perf_counter() - started)

    training = ts < us(REFERENCE_START)
    reference = (ts >= us(REFERENCE_START)) & (ts < us(LOGS_START))
    logs = ts >= us(LOGS_START)

    if np.unique(rows["clicked"][training]).size < 2:
        raise _usage("scale", "large enough for the training period to hold clicks and "
                     "non-clicks (0.001 is)", scale)
    v1, v2 = train(generate.subset(rows, training), model_rng)
    logger.info("trained both versions in %.1fs", time.perf_counter() - started)

    log_rows = generate.subset(rows, logs)
    log_rows["request"] = np.flatnonzero(logs)
    log_rows.update(generate.serving(serving_rng, log_rows, v1, v2))
    labelled_until = end - LABEL_CUTOFF
    labels = generate.labels(label_rng, log_rows, labelled_until)

    ref_rows = generate.subset(rows, reference)
    ref_rows["request"] = np.flatnonzero(reference)
    frame = feature_frame(ref_rows)
    ref_rows["score_v1"] = v1.predict_proba(frame)[:, 1]
    ref_rows["score_v2"] = v2.predict_proba(frame)[:, 1]

    write.write_reference(root, ref_rows)
    write.write_logs(root, log_rows, end)
    write.write_labels(root, log_rows, labels)
    write.write_models(root, v1, v2)
    # The regression model draws from a seed stream of its own: the CTR files above do not depend on it.
    delivery_entry, delivery_truth = delivery.build(root, scale=scale, seed=seed, windows=windows)
    logger.info("built the delivery model in %.1fs", time.perf_counter() - started)
    project_path = write.write_project(root, weeks, {delivery.MODEL_NAME: delivery_entry})

    document = truth.ground_truth(
        scale=scale, weeks=weeks, seed=seed, exposure=exposure, windows=windows,
        labelled_until=labelled_until, training=generate.subset(rows, training),
        reference=ref_rows, logs=log_rows, labels=labels,
    )
    document["delivery"] = delivery_truth
    truth.write_ground_truth(root, document)
    logger.info("wrote the demo project to %s in %.1fs", root, time.perf_counter() - started)
    return DemoProject(
        root=root,
        project_path=project_path,
        model=MODEL_NAME,
        version=MONITORED_VERSION,
        windows=windows,
        ground_truth=document,
        monitored=((MODEL_NAME, MONITORED_VERSION), (delivery.MODEL_NAME, delivery.MONITORED_VERSION)),
    )
