"""Tests of mlmon_nb.data: windows through DuckDB, pushdown, labels, bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from mlmon_nb.config import load_project
from mlmon_nb.data import read_reference, read_window, scan_profile, window_stats
from mlmon_nb.errors import DataError

from conftest import UTC, make_frame, write_project

START = dt.datetime(2026, 10, 12, tzinfo=UTC)
END = dt.datetime(2026, 10, 19, tzinfo=UTC)


def test_window_is_half_open_and_typed(small_project):
    path, logs = small_project
    model = load_project(path).model("m")
    table = read_window(model, START, END)
    df = table.frame
    expected = logs[(logs.ts >= pd.Timestamp(START)) & (logs.ts < pd.Timestamp(END))]
    assert len(df) == len(expected) == 7 * 144
    assert df["ts"].min() == pd.Timestamp(START)
    assert df["ts"].max() < pd.Timestamp(END)
    assert str(df["ts"].dt.tz) == "UTC"
    assert isinstance(df["device"].dtype, pd.CategoricalDtype)
    assert df["price"].dtype == np.float64
    assert df["price"].to_numpy() == pytest.approx(expected["price"].to_numpy())


def test_rows_come_back_in_time_order_whatever_the_files_order(tmp_path):
    """Logs written out of time order (a shuffled file) are still returned sorted by timestamp,
    ties in file order; categoricals keep sorted levels."""
    rng = np.random.default_rng(3)
    (tmp_path / "data").mkdir()
    make_frame(200, "2026-09-01", rng).to_parquet(tmp_path / "data/reference.parquet")
    logs = make_frame(500, "2026-10-05", rng, freq_minutes=5)
    logs = pd.concat([logs, logs.iloc[:50]])  # duplicated timestamps: ties
    logs.sample(frac=1.0, random_state=1).to_parquet(tmp_path / "data/shuffled.parquet")
    model = load_project(write_project(tmp_path, logs="data/shuffled.parquet")).model("m")
    df = read_window(model, dt.datetime(2026, 10, 5, tzinfo=UTC), dt.datetime(2026, 10, 6, tzinfo=UTC)).frame
    assert df["ts"].is_monotonic_increasing and len(df) == 288 + 50
    expected = logs[logs.ts < pd.Timestamp("2026-10-06", tz="UTC")].sort_values("ts", kind="stable")
    assert sorted(df["price"].round(9)) == sorted(expected["price"].round(9))
    assert list(df["device"].cat.categories) == sorted(df["device"].cat.categories)


def test_pushdown_reads_only_the_window(small_project):
    path, _ = small_project
    model = load_project(path).model("m")
    week = scan_profile(model, START, END, columns=["ts", "price"])
    everything = scan_profile(model, dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2100, 1, 1, tzinfo=UTC),
                              columns=["ts", "price"])
    assert week["rows"] == 7 * 144
    assert everything["rows"] == 4 * 7 * 144
    # Row groups outside the window are skipped from their statistics, not read and filtered.
    assert week["rows_scanned"] <= week["rows"] * 1.2
    assert week["row_groups_scanned"] * 3 < everything["row_groups_scanned"]


def test_naive_and_offset_timestamps_are_utc(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "data").mkdir()
    ref = make_frame(200, "2026-09-01", rng)
    ref.to_parquet(tmp_path / "data/reference.parquet")
    logs = make_frame(48, "2026-10-05", rng, freq_minutes=60)
    naive = logs.assign(ts=logs["ts"].dt.tz_localize(None))
    naive.to_parquet(tmp_path / "data/naive.parquet")
    shifted = logs.assign(ts=logs["ts"].dt.tz_convert("Europe/Berlin").astype(str))
    shifted.to_csv(tmp_path / "data/offset.csv", index=False)
    window = (dt.datetime(2026, 10, 5, 6, tzinfo=UTC), dt.datetime(2026, 10, 5, 12, tzinfo=UTC))
    for logs_path in ("data/naive.parquet", "data/offset.csv"):
        model = load_project(write_project(tmp_path, logs=logs_path)).model("m")
        df = read_window(model, *window).frame
        assert len(df) == 6, logs_path
        assert df["ts"].iloc[0] == pd.Timestamp("2026-10-05 06:00", tz="UTC"), logs_path


def test_late_labels_are_joined_by_key(tmp_path):
    rng = np.random.default_rng(2)
    (tmp_path / "data/labels").mkdir(parents=True)
    make_frame(300, "2026-09-01", rng).to_parquet(tmp_path / "data/reference.parquet")
    logs = make_frame(100, "2026-10-05", rng)
    logs.drop(columns="clicked").to_parquet(tmp_path / "data/logs.parquet")
    labels = logs[["request_id", "clicked"]].iloc[:60]
    labels.to_parquet(tmp_path / "data/labels/l.parquet")
    path = write_project(tmp_path, logs="data/logs.parquet",
                         model_extra={"labels": {"path": "data/labels", "key": "request_id"}})
    model = load_project(path).model("m")
    table = read_window(model, dt.datetime(2026, 10, 5, tzinfo=UTC), dt.datetime(2026, 10, 6, tzinfo=UTC))
    df = table.frame.set_index("request_id")
    assert table.labelled_rows == 60
    joined = df.loc[labels["request_id"], "clicked"].to_numpy()
    assert (joined == labels["clicked"].to_numpy()).all()
    assert df["clicked"].isna().sum() == 40


def _yes_no_labels(tmp_path, model_extra=None):
    rng = np.random.default_rng(2)
    (tmp_path / "data/labels").mkdir(parents=True)
    make_frame(300, "2026-09-01", rng).to_parquet(tmp_path / "data/reference.parquet")
    logs = make_frame(100, "2026-10-05", rng)
    logs.drop(columns="clicked").to_parquet(tmp_path / "data/logs.parquet")
    labels = logs[["request_id", "clicked"]].iloc[:60].copy()
    labels["clicked"] = np.where(labels["clicked"] == 1, "yes", "no")
    labels.to_parquet(tmp_path / "data/labels/l.parquet")
    path = write_project(tmp_path, logs="data/logs.parquet", model_extra={
        "labels": {"path": "data/labels", "key": "request_id"}, **(model_extra or {})})
    return load_project(path).model("m"), labels


def test_labels_of_other_values_are_refused_naming_them(tmp_path):
    """Labels re-encoded "no"/"yes" used to give "no labels yet" with 2,602 labelled rows (issue 13)."""
    model, _ = _yes_no_labels(tmp_path)
    with pytest.raises(DataError, match=r"models\.m\.labels: the target 'clicked' holds 'no', 'yes'.*positive_class"):
        window_stats(model, dt.datetime(2026, 10, 5, tzinfo=UTC), dt.datetime(2026, 10, 6, tzinfo=UTC))


def test_positive_class_maps_a_binary_target(tmp_path):
    model, labels = _yes_no_labels(tmp_path, {"positive_class": "yes"})
    start, end = dt.datetime(2026, 10, 5, tzinfo=UTC), dt.datetime(2026, 10, 6, tzinfo=UTC)
    assert window_stats(model, start, end).labelled_rows == 60
    df = read_window(model, start, end).frame.set_index("request_id")
    got = df.loc[labels["request_id"], "clicked"].to_numpy()
    assert (got == (labels["clicked"] == "yes").astype(int).to_numpy()).all()


def test_fingerprint_tracks_content(small_project):
    path, _ = small_project
    model = load_project(path).model("m")
    a = window_stats(model, START, END)
    b = window_stats(model, START, END)
    c = window_stats(model, START, END + dt.timedelta(hours=1))
    assert a == b
    assert a.fingerprint != c.fingerprint
    assert a.fingerprint == read_window(model, START, END).fingerprint


def test_reference_reads_all_rows(small_project):
    path, _ = small_project
    ref = read_reference(load_project(path).model("m"))
    assert len(ref) == 3000
    assert isinstance(ref.frame["region"].dtype, pd.CategoricalDtype)


@pytest.mark.parametrize("mutate, message", [
    ("missing_path", "not found"),
    ("empty_folder", "holds no parquet or CSV files"),
    ("corrupt", "not a readable parquet file"),
    ("bad_utf8", "not valid UTF-8"),
    ("missing_column", "column 'price'"),
    ("string_numeric", "expected a number"),
    ("no_rows", "no rows"),
])
def test_bad_data_names_what_and_where(tmp_path, mutate, message):
    rng = np.random.default_rng(3)
    (tmp_path / "data").mkdir()
    make_frame(200, "2026-09-01", rng).to_parquet(tmp_path / "data/reference.parquet")
    logs = make_frame(200, "2026-10-05", rng)
    logs_path = "data/logs.parquet"
    window = (dt.datetime(2026, 10, 5, tzinfo=UTC), dt.datetime(2026, 10, 6, tzinfo=UTC))
    if mutate == "missing_path":
        logs_path = "data/nowhere/"
    elif mutate == "empty_folder":
        (tmp_path / "data/empty").mkdir()
        logs_path = "data/empty"
    elif mutate == "corrupt":
        (tmp_path / logs_path).write_bytes(b"PAR1 this is not really parquet" * 10)
    elif mutate == "bad_utf8":
        logs_path = "data/logs.csv"
        text = logs.to_csv(index=False).encode()
        (tmp_path / logs_path).write_bytes(text[:2000] + b"\xff\xfe\xfa" + text[2000:])
    elif mutate == "missing_column":
        logs.drop(columns="price").to_parquet(tmp_path / logs_path)
    elif mutate == "string_numeric":
        logs.assign(price=logs["price"].map(lambda v: f"${v:.2f}")).to_parquet(tmp_path / logs_path)
    elif mutate == "no_rows":
        window = (dt.datetime(2027, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 2, tzinfo=UTC))
    if not (tmp_path / logs_path).exists() and mutate not in ("missing_path", "empty_folder"):
        logs.to_parquet(tmp_path / logs_path)
    model = load_project(write_project(tmp_path, logs=logs_path)).model("m")
    with pytest.raises(DataError) as info:
        read_window(model, *window)
    text = str(info.value)
    assert message in text
    assert "models.m.logs" in text
    assert "\n" not in text


def test_a_partition_folder_named_like_a_column_never_replaces_its_values(tmp_path):
    """`score=0.99/` used to replace every logged score with 0.99 (issue 13, finding 5)."""
    rng = np.random.default_rng(5)
    make_frame(300, "2026-09-01", rng).to_parquet(tmp_path / "reference.parquet")
    logs = make_frame(144, "2026-10-05", rng)
    folder = tmp_path / "logs" / "score=0.99"
    folder.mkdir(parents=True)
    logs.to_parquet(folder / "part.parquet")
    path = write_project(tmp_path, logs="logs", reference="reference.parquet")
    frame = read_window(load_project(path).model("m"), dt.datetime(2026, 10, 5, tzinfo=UTC),
                        dt.datetime(2026, 10, 6, tzinfo=UTC)).frame
    assert frame["score"].to_numpy() == pytest.approx(logs["score"].to_numpy())


def test_timestamps_in_any_zone_come_out_as_the_same_utc_instants():
    """The timestamp column is relabelled UTC in Arrow before pandas sees it (a copy, not a per-value
    conversion): the instants are those of pandas' own conversion, whatever zone the source names."""
    import pyarrow as pa

    from mlmon_nb.config import FeaturesConfig
    from mlmon_nb.data import Relation, table_frame

    instants = pd.date_range("2026-03-28 22:00", periods=50, freq="37min", tz="UTC")  # across a DST change
    for zone in ("Etc/UTC", "Europe/Paris", "America/New_York", None):
        ts = instants.tz_convert(zone) if zone else instants.tz_localize(None)
        table = pa.table({"ts": pa.array(ts), "x": pa.array(np.arange(50.0))})
        where = Relation(sql="t", types={}, where="test", path="t")
        df = table_frame(table, where, "ts", FeaturesConfig(numeric=("x",), categorical=()))
        assert str(df["ts"].dt.tz) == "UTC", zone
        assert (df["ts"].to_numpy() == instants.to_numpy()).all(), zone
