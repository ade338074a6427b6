"""Tests of mlmon_nb.alerts and mlmon_nb.bundle: alert log, webhooks against a local server, bundles."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from mlmon_nb.alerts import ALERT_LOG, DELIVERY_LOG, notify, post
from mlmon_nb.catalog import load_run
from mlmon_nb.bundle import build_bundle, write_bundle
from mlmon_nb.config import WebhookConfig, load_project
from mlmon_nb.errors import ArchiveError, ConfigError

from conftest import run_window
from test_e2e import assert_self_contained


class _Hook(BaseHTTPRequestHandler):
    fail_first = 0
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append(body)
        if len(type(self).received) <= type(self).fail_first:
            self.send_response(503)
        else:
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Hook.received = []
    _Hook.fail_first = 0
    httpd = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, _Hook
    httpd.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_post_retries_server_errors_with_backoff(server):
    httpd, hook = server
    hook.fail_first = 2
    sleeps = []
    d = post(WebhookConfig(url=f"http://127.0.0.1:{httpd.server_port}/h", retries=3), {"text": "x"},
             sleep=sleeps.append)
    assert d.ok and d.attempts == 3
    assert sleeps == [0.5, 1.0]


def test_post_to_a_refusing_port_fails_cleanly():
    sleeps = []
    d = post(WebhookConfig(url=f"http://127.0.0.1:{_free_port()}/h", retries=2, timeout_seconds=1),
             {"text": "x"}, sleep=sleeps.append)
    assert not d.ok and d.attempts == 3 and "refused" in d.detail.lower()


def test_malformed_webhook_url_is_a_config_error(tmp_path):
    from conftest import write_project

    path = write_project(tmp_path, extra={"alerts": {"webhooks": [{"url": "slack://nope"}]}})
    with pytest.raises(ConfigError, match=r"alerts\.webhooks\.0\.url"):
        load_project(path)


@pytest.fixture(scope="module")
def drift_run(demo):
    summary, run_dir = run_window(demo, 6, ["data_drift"])
    return summary, run_dir


def _project_with_hooks(demo, tmp_path, urls) -> Path:
    cfg = yaml.safe_load(Path(demo.project_path).read_text())
    cfg["alerts"] = {"webhooks": [{"url": u, "min_status": "warn", "retries": 1, "timeout_seconds": 1}
                                  for u in urls]}
    cfg["archive"] = str(tmp_path / "archive")
    root = Path(demo.project_path).parent
    for m in cfg["models"].values():  # keep the demo's data where it is
        for key in ("reference", "logs"):
            m[key] = str(root / m[key])
        m["labels"]["path"] = str(root / m["labels"]["path"])
        for v in m["versions"].values():
            v["model"] = str(root / v["model"])
    path = tmp_path / "mlmon.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_notify_logs_news_and_survives_a_failing_webhook(demo, drift_run, server, tmp_path):
    from mlmon_nb.catalog import entry_of
    from mlmon_nb.incidents import derive

    httpd, hook = server
    summary, run_dir = drift_run
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    project = load_project(_project_with_hooks(
        demo, tmp_path, [f"http://127.0.0.1:{_free_port()}/refused", f"http://127.0.0.1:{httpd.server_port}/ok"]))
    project.archive.mkdir()
    entry = entry_of(summary, "ctr-ranker/2/w/run")
    pages = derive([entry]).for_run(entry["href"])
    assert [p.kind for p in pages] == ["new"] and pages[0].incident.cause == "covariate_shift"
    deliveries = notify(project, summary, pages, run_dir, sleep=lambda s: None)
    assert [d.ok for d in deliveries] == [False, True]
    assert hook.received and summary["model"] in hook.received[0]["text"]
    assert "blocks" in hook.received[0] and pages[0].incident.id in str(hook.received[0]["blocks"])
    lines = [json.loads(x) for x in (project.archive / ALERT_LOG).read_text().splitlines()]
    assert [(x["notification"], x["incident"]) for x in lines] == [("new", pages[0].incident.id)]
    deliveries_log = [json.loads(x) for x in (project.archive / DELIVERY_LOG).read_text().splitlines()]
    assert [d["ok"] for d in deliveries_log] == [False, True]
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before


def test_bundle_holds_every_report_and_is_self_contained(drift_run, tmp_path):
    summary, run_dir = drift_run
    out = write_bundle(run_dir, tmp_path / "b.html")
    html = out.read_text()
    assert_self_contained(html, str(out))
    for name in summary["notebooks"]:
        assert f'id="nb-{name}"' in html and f'href="#nb-{name}"' in html
    assert html.count("data:image/png;base64,") >= 1
    ids = [i for i in __import__("re").findall(r'\bid="([^"]+)"', html)]
    assert len(ids) == len(set(ids)), "duplicate element ids"


def test_bundle_bad_inputs(tmp_path, drift_run):
    with pytest.raises(ArchiveError, match="not found"):
        build_bundle(tmp_path / "nowhere")
    with pytest.raises(ArchiveError, match="not a run folder"):
        build_bundle(tmp_path)
    _, run_dir = drift_run
    with pytest.raises(ArchiveError, match="never changed"):
        write_bundle(run_dir, run_dir / "bundle.html")


def test_older_schema_is_named(tmp_path, drift_run):
    _, run_dir = drift_run
    old = tmp_path / "old"
    old.mkdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["schema"] = "mlmon.summary/0"
    (old / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ArchiveError, match=r"mlmon\.summary/0.*mlmon\.summary/1"):
        load_run(old)
