"""Tests of mlmon_nb.journal: appends that never tear, interleave or half-write."""

from __future__ import annotations

import json
import multiprocessing as mp
import os

import pytest

from mlmon_nb import journal
from mlmon_nb.errors import ArchiveError


def _writer(path: str, who: int, n: int) -> None:
    j = journal.Journal(journal.Path(path))
    for i in range(n):
        j.append([{"who": who, "i": i, "pad": "x" * (50 + 997 * (i % 7))}])


def test_concurrent_processes_never_interleave_a_line(tmp_path):
    path = tmp_path / "alerts.jsonl"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 60)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[:-1]]
    assert len(records) == 240
    assert {(r["who"], r["i"]) for r in records} == {(w, i) for w in range(4) for i in range(60)}


def test_a_torn_last_line_is_cut_before_the_next_append(tmp_path):
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2, "half')
    contents = journal.Journal(path).read()
    assert [r["a"] for r in contents.records] == [1]
    assert contents.torn_tail and "torn" in contents.damaged[0][1]
    journal.Journal(path).append([{"a": 3}])
    assert path.read_bytes() == b'{"a": 1}\n{"a": 3}\n'


def test_a_torn_only_line_is_cut_to_an_empty_file(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"a": 1')
    journal.Journal(path).append([{"a": 2}])
    assert path.read_bytes() == b'{"a": 2}\n'


def test_short_writes_are_continued(tmp_path, monkeypatch):
    real = os.write
    monkeypatch.setattr(journal.os, "write", lambda fd, data: real(fd, bytes(data[:7])))
    path = tmp_path / "j.jsonl"
    journal.Journal(path).append([{"k": "v" * 40}, {"k": 2}])
    assert [json.loads(x) for x in path.read_text().splitlines()] == [{"k": "v" * 40}, {"k": 2}]


def test_a_failed_write_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "j.jsonl"
    journal.Journal(path).append([{"first": 1}])
    real = os.write
    calls = {"n": 0}

    def half_then_full(fd, data):
        calls["n"] += 1
        if calls["n"] == 1:
            return real(fd, bytes(data[:5]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal.os, "write", half_then_full)
    with pytest.raises(ArchiveError, match="No space left on device.*nothing was added"):
        journal.Journal(path).append([{"second": 2}])
    assert path.read_bytes() == b'{"first": 1}\n'


def test_damaged_lines_are_reported_and_skipped(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"a": 1}\nnot json\n[1, 2]\n\n{"a": 2}\n')
    contents = journal.Journal(path).read()
    assert [r["a"] for r in contents.records] == [1, 2]
    assert [n for n, _ in contents.damaged] == [2, 3]


def test_ensure_appends_only_what_is_missing(tmp_path):
    j = journal.Journal(tmp_path / "j.jsonl")
    key = lambda r: (r["run"], r["i"])  # noqa: E731
    assert j.ensure(key, [{"run": "a", "i": 0}, {"run": "a", "i": 1}]) == 2
    assert j.ensure(key, [{"run": "a", "i": 0}, {"run": "a", "i": 1}, {"run": "b", "i": 0}]) == 1
    assert len(j.read().records) == 3
