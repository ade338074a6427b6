"""Tests for mlmon_nb.config: loading and validating mlmon.yaml, parsing windows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from mlmon_nb.config import (
    BaselineConfig,
    FeaturesConfig,
    ModelConfig,
    Project,
    Thresholds,
    VersionConfig,
    load_project,
)
from mlmon_nb.windows import parse_window
from mlmon_nb.errors import ConfigError, UsageError

UTC = dt.timezone.utc

# The example of INTERFACE.md section 1, verbatim.
EXAMPLE = """\
archive: reports                      # where baselines and reports are archived
models:
  ctr-ranker:                         # model name: [a-z0-9][a-z0-9._-]{0,63}
    task: binary_classification       # binary_classification | multiclass_classification | regression
    timestamp: ts                     # timestamp column of the logs (UTC, or tz-aware)
    prediction: score                 # column of the logs holding the model's output
                                      #   (binary: probability of the positive class)
    target: clicked                   # ground-truth column; may be missing or null in recent logs
    features:                         # optional: inferred from the reference data when omitted
      numeric: [price, user_tenure_days]
      categorical: [device, region]
    reference: data/reference.parquet # baseline data: features + target (+ prediction if logged)
    logs: data/logs/                  # production logs: one file, a glob, or a folder of parquet/CSV
    labels:                           # optional: ground truth that arrives late, joined by key
      path: data/labels/
      key: request_id
    version_column: model_version     # optional: column of the logs naming the serving version
    versions:                         # version names follow the model-name rule above
      "3":
        model: models/ctr/3.skops     # .skops (safe); .joblib/.pkl only with `trusted: true`
        deployed: 2026-10-01
      "2":
        model: models/ctr/2.joblib
        trusted: true                 # the user vouches for this pickle
    operational:                      # optional columns for latency / throughput / errors
      latency_ms: latency_ms
      request_id: request_id
      error: error_code
    feedback:                         # optional columns for feedback-loop monitoring
      user: user_id
      item: item_id
      exposed: shown                  # the model's output changed what the user saw
      outcome: clicked
      training_provenance: from_model # in reference/training data: row was produced under the model's influence
    thresholds: {}                    # optional overrides of default alert thresholds
"""


def write(tmp_path: Path, document: str | dict | list) -> Path:
    """Write ``document`` (YAML text, or data to dump) as tmp_path/mlmon.yaml."""
    text = document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False)
    path = tmp_path / "mlmon.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def example() -> dict:
    """The INTERFACE example as data, to be changed by one test."""
    return yaml.safe_load(EXAMPLE)


def model_of(document: dict) -> dict:
    return document["models"]["ctr-ranker"]


def config_error(tmp_path: Path, document: str | dict | list) -> str:
    """Load a bad document; return the message after checking its common shape."""
    path = write(tmp_path, document)
    with pytest.raises(ConfigError) as info:
        load_project(path)
    message = str(info.value)
    assert "\n" not in message
    assert "mlmon.yaml" in message
    return message


# --------------------------------------------------------------------------
# A valid file.


def test_example_loads_with_types_and_absolute_paths(tmp_path):
    project = load_project(write(tmp_path, EXAMPLE))

    assert isinstance(project, Project)
    assert project.path == tmp_path / "mlmon.yaml"
    assert project.root == tmp_path
    assert project.archive == tmp_path / "reports"
    model = project.model("ctr-ranker")
    assert isinstance(model, ModelConfig)
    assert model.name == "ctr-ranker"
    assert model.task == "binary_classification"
    assert (model.timestamp, model.prediction, model.target) == ("ts", "score", "clicked")
    assert model.features == FeaturesConfig(
        numeric=("price", "user_tenure_days"), categorical=("device", "region")
    )
    assert model.reference == tmp_path / "data" / "reference.parquet"
    assert model.logs == tmp_path / "data" / "logs"
    assert model.labels.path == tmp_path / "data" / "labels"
    assert model.labels.key == "request_id"
    assert model.version_column == "model_version"
    assert list(model.versions) == ["3", "2"]
    assert model.versions["3"] == VersionConfig(
        name="3", model=tmp_path / "models/ctr/3.skops", deployed=dt.date(2026, 10, 1)
    )
    assert project.version("ctr-ranker", "2") == VersionConfig(
        name="2", model=tmp_path / "models/ctr/2.joblib", trusted=True
    )
    assert model.operational.error == "error_code"
    assert model.feedback.training_provenance == "from_model"
    assert model.thresholds == Thresholds()
    # Extensions beyond INTERFACE take their defaults.
    assert model.segments == ()
    assert model.chunk == "1d"
    assert model.baseline == BaselineConfig(window=None, chunks=20)


def test_paths_are_absolute_whatever_the_working_folder(tmp_path, monkeypatch):
    write(tmp_path, EXAMPLE)
    monkeypatch.chdir(tmp_path)
    project = load_project("mlmon.yaml")
    assert project.path.is_absolute()
    assert project.archive == tmp_path / "reports"


def test_data_files_are_not_checked_at_load_time(tmp_path):
    project = load_project(write(tmp_path, EXAMPLE))
    assert not project.model("ctr-ranker").reference.exists()


def test_absolute_archive_is_kept(tmp_path):
    document = example()
    document["archive"] = str(tmp_path / "elsewhere")
    assert load_project(write(tmp_path, document)).archive == tmp_path / "elsewhere"


def test_minimal_model_gets_defaults(tmp_path):
    document = example()
    for key in ("features", "labels", "version_column", "operational", "feedback", "thresholds"):
        del model_of(document)[key]
    model_of(document)["versions"] = {"1": None}
    model = load_project(write(tmp_path, document)).model("ctr-ranker")
    assert model.features == FeaturesConfig()
    assert model.labels is None and model.operational is None and model.feedback is None
    assert model.versions == {"1": VersionConfig(name="1")}


def test_int_version_key_becomes_a_string(tmp_path):
    document = example()
    model_of(document)["versions"] = {3: {"deployed": "2026-10-01"}}
    project = load_project(write(tmp_path, document))
    assert "3:" in (tmp_path / "mlmon.yaml").read_text()
    assert project.version("ctr-ranker", "3").deployed == dt.date(2026, 10, 1)
    assert project.version("ctr-ranker", 3).name == "3"


def test_extensions_load(tmp_path):
    document = example()
    model_of(document).update(
        segments=["device", "region"],
        chunk="12h",
        baseline={"window": "2026-09-01/2026-10-01T12:00:00+02:00", "chunks": 30},
        thresholds={
            "fdr": 0.05,
            "band_margin": 0,
            "methods": {"psi": {"warn": 0.1, "alert": 0.2}},
            "features": {
                "price": {"method": "wasserstein", "alert": 1},
                "region": {"ignore": True},
            },
            "metrics": {"roc_auc": {"warn": 0.02, "alert": 0.05, "direction": "higher_is_better"}},
        },
    )
    model = load_project(write(tmp_path, document)).model("ctr-ranker")
    assert model.segments == ("device", "region")
    assert model.chunk == "12h"
    assert model.baseline == BaselineConfig(
        window=(dt.datetime(2026, 9, 1, tzinfo=UTC), dt.datetime(2026, 10, 1, 10, tzinfo=UTC)),
        chunks=30,
    )
    assert model.thresholds == Thresholds(**{
        "fdr": 0.05,
        "band_margin": 0.0,
        "methods": {"psi": {"warn": 0.1, "alert": 0.2}},
        "features": {"price": {"method": "wasserstein", "alert": 1.0}, "region": {"ignore": True}},
        "metrics": {"roc_auc": {"warn": 0.02, "alert": 0.05, "direction": "higher_is_better"}},
    })


# --------------------------------------------------------------------------
# The file itself.


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path / "mlmon.yaml")
    message = str(info.value)
    assert message.startswith(str(tmp_path / "mlmon.yaml"))
    assert message.endswith(f"file not found: {tmp_path / 'mlmon.yaml'}")


def test_missing_file_relative_to_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^mlmon\.yaml: file not found: /"):
        load_project("mlmon.yaml")


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(ConfigError, match="got a folder"):
        load_project(tmp_path)


def test_unparsable_yaml_names_line_and_column(tmp_path):
    message = config_error(tmp_path, "archive: reports\nmodels: [ctr\n  x: y: z\n")
    assert "line 3, column" in message
    assert "expected valid YAML" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "archive: a\narchive: b\nmodels: {}\n",
            "line 2, column 1: expected valid YAML, got duplicate key 'archive'",
        ),
        (
            "archive: r\nx: 2026-02-30\n",
            "line 2, column 4: expected valid YAML, got invalid date '2026-02-30'",
        ),
    ],
)
def test_yaml_that_safe_load_would_get_wrong(tmp_path, text, expected):
    assert expected in config_error(tmp_path, text)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([1, 2], "top level: expected a mapping with the keys archive, alerts, max_window_days, engine, models, got list ([1, 2])"),
        ("", "top level: expected a mapping with the keys archive, alerts, max_window_days, engine, models, got an empty file"),
        (
            "just text",
            "top level: expected a mapping with the keys archive, alerts, max_window_days, engine, models, got string ('just text')",
        ),
    ],
)
def test_top_level_must_be_a_mapping(tmp_path, document, expected):
    assert expected in config_error(tmp_path, document)


# --------------------------------------------------------------------------
# Keys: missing, unknown, wrong type or value.


def drop(*keys):
    """A change that deletes the key path ``keys`` from the example."""

    def change(document):
        parent = document
        for key in keys[:-1]:
            parent = parent[key]
        del parent[keys[-1]]

    return change


def put(*keys, value):
    """A change that sets the key path ``keys`` of the example to ``value``."""

    def change(document):
        parent = document
        for key in keys[:-1]:
            parent = parent[key]
        parent[keys[-1]] = value

    return change


M = ("models", "ctr-ranker")
V3 = (*M, "versions", "3")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            drop("archive"),
            "mlmon.yaml: archive: expected a folder for the archive (not a system folder), got nothing",
        ),
        (
            drop("models"),
            "mlmon.yaml: models: expected a non-empty mapping of model name -> model, got nothing",
        ),
        (
            drop(*M, "target"),
            "models.ctr-ranker.target: expected a column name (string), got nothing (the key is required)",
        ),
        (
            put(*M, "target", value=None),
            "models.ctr-ranker.target: expected a column name (string), got null",
        ),
        (drop(*M, "task"), "models.ctr-ranker.task: expected one of binary_classification"),
        (drop(*M, "logs"), "models.ctr-ranker.logs: expected a path"),
        (
            drop(*M, "versions"),
            "models.ctr-ranker.versions: expected a non-empty mapping of version name",
        ),
        (
            drop(*M, "labels", "key"),
            "models.ctr-ranker.labels.key: expected a column name (string), got nothing",
        ),
    ],
)
def test_missing_required_key(tmp_path, change, expected):
    document = example()
    change(document)
    assert expected in config_error(tmp_path, document)


@pytest.mark.parametrize(
    ("change", "path", "suggestion"),
    [
        (put("archiv", value="x"), "mlmon.yaml: archiv:", "did you mean 'archive'?"),
        (put(*M, "traget", value="y"), "models.ctr-ranker.traget:", "did you mean 'target'?"),
        (
            put(*V3, "trustd", value=True), "models.ctr-ranker.versions.3.trustd:",
            "did you mean 'trusted'?",
        ),
        (
            put(*M, "thresholds", value={"fdrr": 0.1}), "models.ctr-ranker.thresholds.fdrr:",
            "did you mean 'fdr'?",
        ),
        (
            put(*M, "thresholds", value={"methods": {"psi": {"warm": 0.1}}}),
            "models.ctr-ranker.thresholds.methods.psi.warm:",
            "did you mean 'warn'?",
        ),
        (
            put(*M, "labels", "keys", value="id"), "models.ctr-ranker.labels.keys:",
            "did you mean 'key'?",
        ),
        (
            put(*M, "baseline", value={"chunk": 20}), "models.ctr-ranker.baseline.chunk:",
            "did you mean 'chunks'?",
        ),
    ],
)
def test_unknown_key_names_path_and_suggests(tmp_path, change, path, suggestion):
    document = example()
    change(document)
    message = config_error(tmp_path, document)
    assert path in message
    assert "unknown key" in message
    assert message.endswith(suggestion)


def test_unknown_key_lists_the_allowed_keys_without_a_far_fetched_guess(tmp_path):
    document = example()
    model_of(document)["versions"]["3"]["zzz"] = 1
    message = config_error(tmp_path, document)
    assert (
        "versions.3.zzz: expected one of the keys model, deployed, trusted, got unknown key 'zzz'"
        in message
    )
    assert "did you mean" not in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            put(*M, "task", value="binary"),
            "models.ctr-ranker.task: expected one of binary_classification, multiclass_classification, regression, got string ('binary')",
        ),
        (
            put(*M, "target", value=7),
            "models.ctr-ranker.target: expected a column name (string), got int (7)",
        ),
        (
            put(*M, "target", value=""),
            "models.ctr-ranker.target: expected a column name (string), got string ('')",
        ),
        (put("archive", value=["a"]), "mlmon.yaml: archive: expected a path"),
        (
            put("models", value={}),
            "models: expected a non-empty mapping of model name -> model, got mapping ({})",
        ),
        (put(*M, "versions", value={}), "models.ctr-ranker.versions: expected a non-empty mapping"),
        (
            put(*M, "versions", value=["3"]),
            "models.ctr-ranker.versions: expected a non-empty mapping",
        ),
        (
            put(*M, "features", value=["price"]),
            "models.ctr-ranker.features: expected a mapping with the keys numeric, categorical, got list (['price'])",
        ),
        (
            put(*M, "features", "numeric", value="price"),
            "models.ctr-ranker.features.numeric: expected a list of column names, got string ('price')",
        ),
        (
            put(*M, "features", "numeric", value=["price", 3]),
            "models.ctr-ranker.features.numeric.1: expected a column name (string), got int (3)",
        ),
        (
            put(*M, "labels", value="data/labels"),
            "models.ctr-ranker.labels: expected a mapping with the keys path, key",
        ),
        (
            put(*M, "operational", "error", value=True),
            "models.ctr-ranker.operational.error: expected a column name (string), got bool (True)",
        ),
        (
            put(*M, "feedback", "exposed", value=1),
            "models.ctr-ranker.feedback.exposed: expected a column name",
        ),
        (
            put(*M, "version_column", value=["v"]),
            "models.ctr-ranker.version_column: expected a column name",
        ),
        (put(*V3, "model", value=3), "models.ctr-ranker.versions.3.model: expected a path"),
        (
            put(*M, "segments", value="device"),
            "models.ctr-ranker.segments: expected a list of column names",
        ),
    ],
)
def test_wrong_type_or_value(tmp_path, change, expected):
    document = example()
    change(document)
    assert expected in config_error(tmp_path, document)


def test_long_values_are_truncated(tmp_path):
    document = example()
    model_of(document)["task"] = "x" * 500
    message = config_error(tmp_path, document)
    assert "x" * 50 in message
    assert "x" * 100 not in message
    assert message.endswith("...)")


# --------------------------------------------------------------------------
# Model and version names.


@pytest.mark.parametrize(
    ("name", "note"),
    [
        ("CTR", ""),
        ("-ctr", ""),
        ("ctr ranker", ""),
        ("a" * 65, ""),
        ("a..b", "'..' is not allowed"),
        ("..", "escape the archive folder"),
        ("../evil", "escape the archive folder"),
        ("a/b", "escape the archive folder"),
        ("a\\b", "escape the archive folder"),
    ],
)
def test_bad_model_name(tmp_path, name, note):
    document = example()
    document["models"] = {name: model_of(document)}
    message = config_error(tmp_path, document)
    assert "expected a model name matching [a-z0-9][a-z0-9._-]{0,63}" in message
    assert repr(name)[:40] in message
    assert note in message


@pytest.mark.parametrize(
    ("name", "note"),
    [
        ("..", "escape the archive folder"),
        ("3/../..", "escape the archive folder"),
        ("v..1", "'..' is not allowed"),
        ("V3", ""),
        (-1, ""),
        (3.10, "quote names that YAML reads as numbers"),
        (True, "quote names"),
    ],
)
def test_bad_version_name(tmp_path, name, note):
    document = example()
    model_of(document)["versions"] = {name: {}}
    message = config_error(tmp_path, document)
    assert "models.ctr-ranker.versions." in message
    assert "expected a version name matching" in message
    assert note in message


def test_int_and_string_version_keys_that_collide(tmp_path):
    document = example()
    model_of(document)["versions"] = {3: {}, "3": {}}
    message = config_error(tmp_path, document)
    assert "models.ctr-ranker.versions.3: expected a version name" in message
    assert "got '3' twice" in message


@pytest.mark.parametrize("name", ["3", "v3.1-rc_2", "0", "a" * 64])
def test_good_version_names(tmp_path, name):
    document = example()
    model_of(document)["versions"] = {name: {}}
    assert name in load_project(write(tmp_path, document)).model("ctr-ranker").versions


# --------------------------------------------------------------------------
# Versions: dates and trust.


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "2026-13-01",
            "versions.3.deployed: expected a date YYYY-MM-DD, got string ('2026-13-01'); month must be in 1..12",
        ),
        (
            "01/10/2026",
            "versions.3.deployed: expected a date YYYY-MM-DD, got string ('01/10/2026')",
        ),
        ("20261001", "versions.3.deployed: expected a date YYYY-MM-DD"),
        (20261001, "versions.3.deployed: expected a date YYYY-MM-DD, got int (20261001)"),
        (
            dt.datetime(2026, 10, 1, 12),
            "versions.3.deployed: expected a date YYYY-MM-DD, got datetime",
        ),
    ],
)
def test_bad_deployed_date(tmp_path, value, expected):
    document = example()
    model_of(document)["versions"]["3"]["deployed"] = value
    assert expected in config_error(tmp_path, document)


def test_deployed_as_quoted_iso_string(tmp_path):
    document = example()
    model_of(document)["versions"]["3"]["deployed"] = "2026-10-01"
    text = yaml.safe_dump(document)
    assert "'2026-10-01'" in text
    version = load_project(write(tmp_path, text)).version("ctr-ranker", "3")
    assert version.deployed == dt.date(2026, 10, 1)


@pytest.mark.parametrize("value", ["yes", "true", 1, 0])
def test_trusted_must_be_a_bool(tmp_path, value):
    document = example()
    model_of(document)["versions"]["2"]["trusted"] = value
    message = config_error(tmp_path, document)
    assert "models.ctr-ranker.versions.2.trusted: expected true or false, got" in message


# --------------------------------------------------------------------------
# Features and segments.


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (
            {"numeric": ["price", "price"]},
            "features.numeric.1: expected each column listed once, got 'price' again",
        ),
        (
            {"numeric": ["price"], "categorical": ["device", "price"]},
            "features.categorical: expected columns not already listed in features.numeric, got 'price'",
        ),
    ],
)
def test_feature_listed_twice(tmp_path, features, expected):
    document = example()
    model_of(document)["features"] = features
    assert f"models.ctr-ranker.{expected}" in config_error(tmp_path, document)


def test_segment_listed_twice(tmp_path):
    document = example()
    model_of(document)["segments"] = ["device", "device"]
    message = config_error(tmp_path, document)
    assert "models.ctr-ranker.segments.1: expected each column listed once" in message


# --------------------------------------------------------------------------
# Chunk and baseline.


@pytest.mark.parametrize("chunk", ["1h", "6h", "1d", "7d", "1w", "24h"])
def test_good_chunk(tmp_path, chunk):
    document = example()
    model_of(document)["chunk"] = chunk
    assert load_project(write(tmp_path, document)).model("ctr-ranker").chunk == chunk


@pytest.mark.parametrize("chunk", ["0d", "1m", "d", "1.5d", "-1d", " 1d", "1d\n", "1D", "١d", 1])
def test_bad_chunk(tmp_path, chunk):
    document = example()
    model_of(document)["chunk"] = chunk
    message = config_error(tmp_path, document)
    assert "models.ctr-ranker.chunk: expected a chunk size like 1d, 12h or 1w" in message


@pytest.mark.parametrize(
    ("baseline", "expected"),
    [
        (
            {"window": "2026-11-23/2026-11-16"},
            "models.ctr-ranker.baseline.window: expected a window START/END of ISO dates or datetimes, "
            "got string ('2026-11-23/2026-11-16'); END must be after START",
        ),
        ({"window": "2026-11-16/2026-11-16"}, "END must be after START"),
        ({"window": "last week"}, "models.ctr-ranker.baseline.window: expected a window START/END"),
        ({"window": "2026-11-16/soon"}, "END 'soon' is not an ISO date or datetime"),
        (
            {"chunks": 5},
            "models.ctr-ranker.baseline.chunks: expected an integer >= 10, got int (5)",
        ),
        (
            {"chunks": 20.0},
            "models.ctr-ranker.baseline.chunks: expected an integer >= 10, got float (20.0)",
        ),
        (
            {"chunks": True},
            "models.ctr-ranker.baseline.chunks: expected an integer >= 10, got bool (True)",
        ),
    ],
)
def test_bad_baseline(tmp_path, baseline, expected):
    document = example()
    model_of(document)["baseline"] = baseline
    assert expected in config_error(tmp_path, document)


# --------------------------------------------------------------------------
# Thresholds.


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [
        (
            {"fdr": 1.5},
            "thresholds.fdr: expected a number between 0 and 1 (exclusive), got float (1.5)",
        ),
        ({"fdr": 0}, "thresholds.fdr: expected a number between 0 and 1"),
        (
            {"fdr": "0.05"},
            "thresholds.fdr: expected a number between 0 and 1 (exclusive), got string ('0.05')",
        ),
        ({"band_margin": -0.1}, "thresholds.band_margin: expected a number >= 0, got float (-0.1)"),
        ({"band_margin": float("nan")}, "thresholds.band_margin: expected a number >= 0"),
        (
            {"methods": {"psi": {"warn": 0.3, "alert": 0.2}}},
            "thresholds.methods.psi.warn: expected a number <= alert (0.2), got float (0.3)",
        ),
        (
            {"methods": {"psi": 0.2}},
            "thresholds.methods.psi: expected a mapping with the keys warn, alert, got float (0.2)",
        ),
        (
            {"methods": {"psi": {"warn": True}}},
            "thresholds.methods.psi.warn: expected a number, got bool (True)",
        ),
        (
            {"features": {"price": {"ignore": "yes"}}},
            "thresholds.features.price.ignore: expected true or false",
        ),
        (
            {"features": {"price": {"warn": 2, "alert": 1}}},
            "thresholds.features.price.warn: expected a number <= alert (1)",
        ),
        (
            {"features": {"price": {"method": 3}}},
            "thresholds.features.price.method: expected a statistic name",
        ),
        (
            {"metrics": {"auc": {"direction": "up"}}},
            "thresholds.metrics.auc.direction: expected one of higher_is_better, lower_is_better, got string ('up')",
        ),
        ({"metrics": ["auc"]}, "thresholds.metrics: expected a mapping of metric name"),
    ],
)
def test_bad_thresholds(tmp_path, thresholds, expected):
    document = example()
    model_of(document)["thresholds"] = thresholds
    assert f"models.ctr-ranker.{expected}" in config_error(tmp_path, document)


# --------------------------------------------------------------------------
# Looking up models and versions.


def test_unknown_model_lists_known_ones(tmp_path):
    project = load_project(write(tmp_path, EXAMPLE))
    with pytest.raises(ConfigError) as info:
        project.model("ctr")
    expected = f"{tmp_path / 'mlmon.yaml'}: models: no model 'ctr'; known: ctr-ranker"
    assert str(info.value) == expected


def test_unknown_version_lists_known_ones(tmp_path):
    project = load_project(write(tmp_path, EXAMPLE))
    with pytest.raises(ConfigError) as info:
        project.version("ctr-ranker", "4")
    expected = "mlmon.yaml: models.ctr-ranker.versions: no version '4'; known: 3, 2"
    assert str(info.value).endswith(expected)
    with pytest.raises(ConfigError, match="no model 'x'"):
        project.version("x", "3")


# --------------------------------------------------------------------------
# parse_window.


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        (
            "2026-11-16/2026-11-23",
            dt.datetime(2026, 11, 16, tzinfo=UTC),
            dt.datetime(2026, 11, 23, tzinfo=UTC),
        ),
        (
            "2026-11-16T06:30/2026-11-16T07:00:00",
            dt.datetime(2026, 11, 16, 6, 30, tzinfo=UTC),
            dt.datetime(2026, 11, 16, 7, tzinfo=UTC),
        ),
        (
            "2026-11-16T00:00:00+02:00/2026-11-23",
            dt.datetime(2026, 11, 15, 22, tzinfo=UTC),
            dt.datetime(2026, 11, 23, tzinfo=UTC),
        ),
        (
            "2026-11-16T12:00:00Z/2026-11-16 13:00:00.5-01:00",
            dt.datetime(2026, 11, 16, 12, tzinfo=UTC),
            dt.datetime(2026, 11, 16, 14, 0, 0, 500000, tzinfo=UTC),
        ),
        (
            " 2026-11-16 / 2026-11-17 ",
            dt.datetime(2026, 11, 16, tzinfo=UTC),
            dt.datetime(2026, 11, 17, tzinfo=UTC),
        ),
    ],
)
def test_parse_window(text, start, end):
    got = parse_window(text)
    assert got == (start, end)
    assert all(moment.tzinfo == UTC for moment in got)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23/2026-11-16", "window '2026-11-23/2026-11-16': END must be after START"),
        ("2026-11-16T02:00+02:00/2026-11-16T00:00Z", "END must be after START"),
        ("2026-11-16", "expected START/END with one '/'"),
        ("2026-11-16/2026-11-23/2026-11-30", "got 2 '/'"),
        ("2026-11-16/", "END '' is not an ISO date or datetime"),
        ("16.11.2026/2026-11-23", "START '16.11.2026' is not an ISO date or datetime"),
        ("2026-02-30/2026-03-01", "START '2026-02-30' is not a valid date or datetime"),
        ("20261116/20261123", "START '20261116' is not an ISO date or datetime"),
        (None, "expected a string START/END, got NoneType"),
    ],
)
def test_parse_window_refuses(text, expected):
    with pytest.raises(UsageError) as info:
        parse_window(text)
    message = str(info.value)
    assert "\n" not in message
    assert expected in message



@pytest.mark.parametrize("block, name", [
    ({"metrics": {"latency_p59": {"alert": 200}}}, "metrics.latency_p59"),
    ({"methods": {"kss": {"alert": 0.2}}}, "methods.kss"),
    ({"features": {"price": {"method": "kolmogorov"}}}, "features.price.method"),
])
def test_unknown_threshold_names_are_refused_with_the_known_ones(tmp_path, block, name):
    document = example()
    model_of(document)["thresholds"] = block
    with pytest.raises(ConfigError) as err:
        load_project(write(tmp_path, document))
    message = str(err.value)
    assert f"models.ctr-ranker.thresholds.{name}" in message
    assert "known:" in message and "\n" not in message
