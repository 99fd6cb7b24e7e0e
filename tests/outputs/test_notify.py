"""Notifications: e-mail (aiosmtpd), webhook (a local HTTP server) and a command; once per finding."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from alertproc.config import notify_settings, smtp_settings
from alertproc.errors import ConfigError
from alertproc.outputs.notify import notify
from helpers import Inbox, SAMPLE, Staged
from helpers.dovecot import free_port


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield smtp_settings({"host": "127.0.0.1", "port": controller.port, "tls": "none",
                         "from_addr": "alertproc@example.in"}, "test"), inbox
    controller.stop()


@pytest.fixture
def webhook():
    received, answers = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(answers.pop(0) if answers else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received, answers
    server.shutdown()


@pytest.fixture
def sample_con(settings, con):
    Staged(con, settings).import_mail(SAMPLE / "mail", "eml")
    Staged(con, settings).detect()
    return con


def high_count(con):
    return con.execute("select count(*) from findings where severity = 'high'").fetchone()[0]


def test_every_channel_once_per_finding(sample_con, smtp, webhook, tmp_path):
    smtp_cfg, inbox = smtp
    url, received, _ = webhook
    out = tmp_path / "command-input.json"
    cfg = notify_settings({"email": ["soc@example.in"], "webhook_url": url,
                           "command": f"sh -c 'cat > {out}'"}, "test")
    result = notify(sample_con, cfg, smtp_cfg, {}, sleep=lambda s: None)
    highs = high_count(sample_con)
    assert result.sent == {"email": highs, "webhook": highs, "command": highs} and not result.failed
    assert len(inbox.messages) == 1 and b"refreshed its token" in inbox.messages[0][1]
    (payload,) = received
    assert payload["text"].startswith(f"alertproc: {highs} new finding(s)") and len(payload["findings"]) == highs
    assert {f["severity"] for f in json.loads(out.read_text())["findings"]} == {"high"}
    again = notify(sample_con, cfg, smtp_cfg, {}, sleep=lambda s: None)
    assert again.sent == {} and len(inbox.messages) == 1 and len(received) == 1  # never re-sent
    sent = sample_con.execute("select channel, count(*) from notifications where status = 'sent' group by 1").fetchall()
    assert dict(sent) == {"email": highs, "webhook": highs, "command": highs}


def test_a_failing_channel_retries_records_and_tries_again_next_run(sample_con, webhook):
    url, received, answers = webhook
    answers.extend([500, 500, 500])
    cfg = notify_settings({"webhook_url": url, "min_severity": "medium"}, "test")
    waits = []
    first = notify(sample_con, cfg, None, {}, sleep=waits.append)
    assert "webhook" in first.failed and len(received) == 3 and waits == [2, 4]
    second = notify(sample_con, cfg, None, {}, sleep=waits.append)
    medium_or_high = sample_con.execute("select count(*) from findings where severity in ('high', 'medium')").fetchone()[0]
    assert second.sent == {"webhook": medium_or_high} and len(received) == 4


def test_bad_notify_config_is_refused():
    with pytest.raises(ConfigError, match="at least one of"):
        notify_settings({"min_severity": "high"}, "x.toml")
    with pytest.raises(ConfigError, match="must be https"):
        notify_settings({"webhook_url": "http://hooks.example.com/x"}, "x.toml")
    with pytest.raises(ConfigError, match="'min_severity' must be one of"):
        notify_settings({"webhook_url": "https://x", "min_severity": "urgent"}, "x.toml")


def test_run_notifies_new_findings_and_a_rerun_never_resends(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from alertproc.cli import cli
    from helpers import ROOT
    monkeypatch.chdir(tmp_path)
    calls = tmp_path / "calls"
    (tmp_path / "alertproc.toml").write_text(f'[notify]\ncommand = "sh -c \'cat >> {calls}; echo >> {calls}\'"\n')
    args = ["run", "--source", str(SAMPLE), "--policy", str(ROOT / "rules" / "policy.yaml"), "--week", "2026-W47"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0 and "notified: {'command': " in first.output, first.output
    second = CliRunner().invoke(cli, args)
    assert "notified: nothing new" in second.output
    assert len(calls.read_text().strip().splitlines()) == 1


@pytest.mark.parametrize("kind, absent, present", [
    ("slack", ["<!channel>", "<https://evil.example|Revoke>"], ["&lt;!channel&gt;", "&lt;https://evil.example|Revoke&gt;"]),
    ("teams", ["[Revoke](https://evil.example)", "<!channel>"], ["\\[Revoke\\]\\(https://evil.example\\)", "&lt;!channel&gt;"]),
])
def test_markup_in_a_finding_reaches_the_webhook_as_text(sample_con, webhook, kind, absent, present):
    url, received, _ = webhook
    hostile = "<!channel> <https://evil.example|Revoke> [Revoke](https://evil.example)"
    sample_con.execute("update findings set title = ? where severity = 'high'", [hostile])
    notify(sample_con, notify_settings({"webhook_url": url, "webhook_format": kind}, "test"), None, {},
           sleep=lambda s: None)
    (payload,) = received
    assert not [a for a in absent if a in payload["text"]] and all(p in payload["text"] for p in present)
    assert payload["findings"][0]["title"] == hostile  # the data itself stays as it is


def test_the_webhook_markup_follows_its_host():
    from alertproc.outputs.notify import webhook_format
    assert webhook_format("https://hooks.slack.com/services/T/B/x") == "slack"
    assert webhook_format("https://contoso.webhook.office.com/webhookb2/x") == "teams"
    assert webhook_format("https://prod-12.westus.logic.azure.com/workflows/x") == "teams"


@pytest.fixture
def teams():
    """A receiver that refuses bodies over 28 KB, as Microsoft Teams does (HTTP 413)."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if len(body) > 28 * 1024:
                self.send_response(413)
            else:
                received.append(json.loads(body))
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def spoof_claiming(con, asp_name):
    con.execute("""insert into findings select 'f-huge', 'spoofed_alert', 'high', '27AAPFU0939F1ZV', ?, now(),
                   'Spoofed alert claims ' || ?, 'detail ' || ?, [], now(), now()""", [asp_name, asp_name, asp_name])


def test_one_oversized_finding_never_silences_the_channel(sample_con, teams):
    """A spoof claiming a 100 KB ASP name made the one POST with every pending finding exceed Teams'
    28 KB: every finding failed with it, every run (issue #28 item 10)."""
    url, received = teams
    spoof_claiming(sample_con, "Acme " * 20_000)
    result = notify(sample_con, notify_settings({"webhook_url": url, "webhook_format": "teams"}, "test"), None, {},
                    sleep=lambda s: None)
    highs = high_count(sample_con)
    assert result.sent == {"webhook": highs} and not result.failed
    delivered = [f for payload in received for f in payload["findings"]]
    assert sorted(f["finding_id"] for f in delivered) == sorted(
        r[0] for r in sample_con.execute("select finding_id from findings where severity = 'high'").fetchall())
    huge = next(f for f in delivered if f["finding_id"] == "f-huge")
    assert len(huge["asp_name"]) < 300 and "[cut: 100,000 characters; the report has it all]" in huge["asp_name"]


def test_many_findings_go_in_batches_within_the_channel_limit(sample_con, teams):
    url, received = teams
    for n in range(60):
        sample_con.execute("""insert into findings select 'f-' || ?, 'spoofed_alert', 'high', '27AAPFU0939F1ZV', 'A',
                              now(), 'Spoofed alert ' || ?, repeat('d', 1900), [], now(), now()""", [n, n])
    result = notify(sample_con, notify_settings({"webhook_url": url, "webhook_format": "teams"}, "test"), None, {},
                    sleep=lambda s: None)
    assert not result.failed and result.sent["webhook"] == high_count(sample_con) and len(received) > 3
    assert sum(len(p["findings"]) for p in received) == high_count(sample_con)


def test_a_trickling_webhook_is_cut_by_the_deadline_and_the_other_channels_still_go(sample_con, tmp_path):
    """A receiver answering a byte every half second held `run` past 90 s (issue #28 item 6)."""
    import socket
    import time
    listener = socket.create_server(("127.0.0.1", 0))

    def trickle():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(0.5)
            conn.close()

    threading.Thread(target=trickle, daemon=True).start()
    out = tmp_path / "command.json"
    cfg = notify_settings({"webhook_url": f"http://127.0.0.1:{listener.getsockname()[1]}/hook", "timeout": 2,
                           "retries": 2, "command": f"sh -c 'cat > {out}'"}, "test")
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(result=notify(sample_con, cfg, None, {},
                                                                           sleep=lambda s: None)), daemon=True)
    worker.start()
    worker.join(60)
    listener.close()
    assert not worker.is_alive(), "notify still waiting for the webhook after 60 s"
    result = outcome["result"]
    assert "did not answer within timeout = 2 s" in result.failed["webhook"]
    assert result.sent == {"command": high_count(sample_con)} and out.exists()


def test_a_failure_text_is_masked_where_it_is_stored(sample_con):
    """The server's text went into notifications.error as it was."""
    from http.server import HTTPServer
    from alertproc.masking import remember
    remember("hunter2-secret-value")

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(500, "Internal error: password hunter2-secret-value rejected")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cfg = notify_settings({"webhook_url": f"http://127.0.0.1:{server.server_address[1]}/", "retries": 1}, "test")
    result = notify(sample_con, cfg, None, {}, sleep=lambda s: None)
    server.shutdown()
    stored = [r[0] for r in sample_con.execute("select distinct error from notifications").fetchall()]
    assert "hunter2" not in result.failed["webhook"] and stored and all("hunter2" not in e for e in stored)
    assert all("********" in e for e in stored)
