"""report --mail-to against a real (local) SMTP server: aiosmtpd on 127.0.0.1."""

import email
import email.policy

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from alertproc.cli import cli
from helpers import Inbox, ROOT, SAMPLE


@pytest.fixture
def smtp_server():
    from helpers.dovecot import free_port
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


def test_the_smtp_password_from_the_environment_is_masked_wherever_a_server_echoes_it():
    """A server whose refusal quotes what it was sent must not put the password into an error."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from email.message import EmailMessage
    from alertproc.config import smtp_settings
    from alertproc.errors import FetchError
    from alertproc.outputs.mailer import deliver
    secret = "smtp-Pa55word-from-env"

    class Echoing:
        async def handle_DATA(self, server, session, envelope):
            return f"554 rejected, your login was {secret}"

    from helpers.dovecot import free_port
    port = free_port()
    controller = Controller(Echoing(), hostname="127.0.0.1", port=port, auth_require_tls=False,
                            authenticator=lambda *args: AuthResult(success=True))
    controller.start()
    try:
        cfg = smtp_settings({"host": "127.0.0.1", "port": port, "tls": "none", "from_addr": "a@example.in",
                             "username": "alertproc", "password_env": "SMTP_PW"}, "test")
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.in", "b@example.in", "x"
        message.set_content("x")
        with pytest.raises(FetchError) as failed:
            deliver(cfg, message, {"SMTP_PW": secret})
    finally:
        controller.stop()
    assert secret not in str(failed.value) and "********" in str(failed.value)
