"""report --mail-to against a real (local) SMTP server: aiosmtpd on 127.0.0.1."""

import email
import email.policy

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from alertproc.cli import cli
from conftest import Inbox, ROOT, SAMPLE


@pytest.fixture
def smtp_server():
    from dovecot import free_port
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def test_report_is_mailed_as_html_with_the_file_attached(workdir_with_sample, smtp_server):
    controller, inbox = smtp_server
    config = workdir_with_sample / "alertproc.toml"
    config.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {controller.port}\ntls = "none"\n'
                      f'from_addr = "alertproc@example.in"\n')
    result = CliRunner().invoke(cli, ["report", "--week", "2026-W47", "--config", str(config),
                                      "--mail-to", "audit@example.in", "--mail-to", "cfo@example.in"])
    assert result.exit_code == 0, result.output
    (recipients, raw), = inbox.messages
    assert recipients == ["audit@example.in", "cfo@example.in"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "GST API access audit 2026-W47"
    html = message.get_body(("html",)).get_content()
    assert "refresh_after_revocation" in html
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "alertproc-2026-W47.html" and "<!doctype html>" in attachment.get_content()


def test_plain_smtp_is_refused_off_loopback(workdir_with_sample):
    config = workdir_with_sample / "alertproc.toml"
    config.write_text('[smtp]\nhost = "smtp.example.com"\ntls = "none"\nfrom_addr = "a@example.in"\n')
    result = CliRunner().invoke(cli, ["report", "--week", "2026-W47", "--config", str(config), "--mail-to", "x@example.in"])
    assert "only allowed on loopback" in str(result.exception)


@pytest.fixture
def workdir_with_sample(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALERTPROC_DB", raising=False)
    result = CliRunner().invoke(cli, ["run", "--source", str(SAMPLE), "--week", "2026-W47",
                                      "--policy", str(ROOT / "rules" / "policy.yaml")])
    assert result.exit_code == 0, result.output
    return tmp_path
