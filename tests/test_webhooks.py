"""Webhook delivery and secrets (issue 13, findings 3, 4 and 9): bounded, never redirected,
credentials kept out of every log and notebook."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import write_project
from mlmon_nb.alerts import DELIVERY_LOG, notify, post
from mlmon_nb.config import WebhookConfig, load_project
from mlmon_nb.errors import ConfigError
from mlmon_nb.incidents import Incident, Page

SECRET = "T0SECRET/B1/XYZtoken123"


class _Server(BaseHTTPRequestHandler):
    mode = "ok"
    seen: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append(("POST", self.path, self.headers.get("Authorization"), body))
        if type(self).mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.end_headers()
            return
        if type(self).mode == "drip":
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            self.wfile.flush()
            for _ in range(40):
                try:
                    self.wfile.write(b"X")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.2)
            return
        self.send_response(200)
        self.end_headers()

    def do_GET(self):  # noqa: N802
        type(self).seen.append(("GET", self.path, None, b""))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Server.seen = []
    _Server.mode = "ok"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd, _Server
    httpd.shutdown()


@pytest.mark.parametrize("url, words", [
    ("https://hooks.example/T0 B1", "whitespace"),
    ("https://hooks.example/T0\rB1", "control"),
    ("https://hooks.example:99999/T0", "Port out of range"),
    ("ftp://hooks.example/T0", "http(s)"),
])
def test_bad_webhook_urls_are_refused_without_repeating_the_secret(tmp_path, url, words):
    path = write_project(tmp_path, extra={"alerts": {"webhooks": [{"url": url}]}})
    with pytest.raises(ConfigError) as err:
        load_project(path)
    message = str(err.value)
    assert "alerts.webhooks.0.url" in message and words in message
    assert "T0" not in message and "\n" not in message


@pytest.mark.parametrize("block, key", [
    ({"url": "https://h.example/x", "retries": 1000}, "retries"),
    ({"url": "https://h.example/x", "timeout_seconds": 3600}, "timeout_seconds"),
    ({"url": "https://h.example/x", "url_env": "X"}, "0"),
    ({"min_status": "alert"}, "0"),
    ({"url_env": "not a name"}, "url_env"),
])
def test_webhook_bounds(tmp_path, block, key):
    path = write_project(tmp_path, extra={"alerts": {"webhooks": [block]}})
    with pytest.raises(ConfigError, match=rf"alerts\.webhooks\.0(\.{key})?: expected"):
        load_project(path)


def test_the_url_never_appears_in_a_repr(tmp_path):
    path = write_project(tmp_path, extra={"alerts": {"webhooks": [{"url": f"https://u:PASS@h.example/{SECRET}?token=abc"}]}})
    project = load_project(path)
    text = repr(project)
    assert SECRET not in text and "PASS" not in text and "token=abc" not in text
    assert project.alerts.webhooks[0].shown == "https://h.example/…"


def test_a_drip_feeding_endpoint_is_cut_at_the_total_timeout(server):
    httpd, handler = server
    handler.mode = "drip"
    t0 = time.perf_counter()
    d = post(WebhookConfig(url=f"http://127.0.0.1:{httpd.server_port}/{SECRET}", retries=0, timeout_seconds=1.0),
             {"text": "x"}, sleep=lambda s: None)
    took = time.perf_counter() - t0
    assert not d.ok and "within 1 s" in d.detail
    assert took < 2.5


def test_a_redirect_is_reported_not_followed(server):
    httpd, handler = server
    handler.mode = "redirect"
    d = post(WebhookConfig(url=f"http://127.0.0.1:{httpd.server_port}/{SECRET}", retries=2), {"text": "x"},
             sleep=lambda s: None)
    assert not d.ok and d.attempts == 1 and "302" in d.detail and "not followed" in d.detail
    assert [m for m, *_ in handler.seen] == ["POST"]


def test_credentials_in_the_url_deliver_and_stay_out_of_the_logs(server, tmp_path):
    httpd, handler = server
    url = f"http://alice:PASS%21@127.0.0.1:{httpd.server_port}/{SECRET}?token=abc"
    path = write_project(tmp_path, extra={"alerts": {"webhooks": [{"url": url, "min_status": "warn"}]}})
    project = load_project(path)
    run_dir = project.archive / "m/1/2026-11-09_2026-11-16/20261116T060000Z"
    run_dir.mkdir(parents=True)
    summary = {"model": "m", "version": "1", "run_id": "20261116T060000Z", "status": "alert", "verdict": "v",
               "generated_at": "2026-11-16T06:00:00+00:00",
               "window": {"start": "2026-11-09T00:00:00+00:00", "end": "2026-11-16T00:00:00+00:00"},
               "notebooks": {}, "checks": [{"notebook": "d", "kind": "feature_drift", "subject": "p",
                                            "status": "alert"}]}
    run = {"window": summary["window"], "run_id": summary["run_id"], "generated_at": summary["generated_at"],
           "href": "m/1/2026-11-09_2026-11-16/20261116T060000Z/index.html"}
    inc = Incident(id="m.1.covariate_shift.20261109", model="m", version="1", cause="covariate_shift",
                   subjects=["p"], status="new", severity="alert", first_seen="2026-11-09T00:00:00+00:00",
                   last_seen="2026-11-16T00:00:00+00:00", opened_in=run["href"])
    [delivery] = notify(project, summary, [Page("new", inc, run)], run_dir, sleep=lambda s: None)
    assert delivery.ok, delivery.detail
    method, where, auth, _ = handler.seen[0]
    assert where == f"/{SECRET}?token=abc"
    assert base64.b64decode(auth.split()[1]).decode() == "alice:PASS!"
    logged = (project.archive / DELIVERY_LOG).read_text()
    assert "PASS" not in logged and SECRET not in logged and "token" not in logged
    assert json.loads(logged)["url"] == f"http://127.0.0.1:{httpd.server_port}/…"


def test_url_env_takes_the_url_from_the_environment(server, tmp_path, monkeypatch):
    httpd, handler = server
    hook = WebhookConfig(url_env="MLMON_TEST_HOOK", retries=0)
    monkeypatch.delenv("MLMON_TEST_HOOK", raising=False)
    d = post(hook, {"text": "x"})
    assert not d.ok and "MLMON_TEST_HOOK" in d.detail and "not set" in d.detail
    monkeypatch.setenv("MLMON_TEST_HOOK", f"http://127.0.0.1:{httpd.server_port}/{SECRET}")
    d = post(hook, {"text": "x"})
    assert d.ok and d.url == "$MLMON_TEST_HOOK"
