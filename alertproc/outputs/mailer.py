"""Send a report by e-mail: the HTML as the message body and the file attached."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ..config import SmtpSettings
from ..deadline import Deadline, connecting, created
from ..errors import ConfigError, FetchError
from ..credentials import from_command, from_env, is_loopback, tls_context
from ..masking import mask, remember_login


def report_message(report: Path, sender: str, recipients: list[str], subject: str) -> EmailMessage:
    """An HTML mail of the report with the report file attached (mail clients strip some CSS)."""
    html = report.read_text(encoding="utf-8")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ", ".join(recipients), subject
    message["Date"], message["Message-ID"] = formatdate(localtime=True), make_msgid("alertproc")
    message.set_content("The GST API access audit report is attached (open it in a browser).\n")
    message.add_alternative(html, subtype="html")
    message.add_attachment(html.encode("utf-8"), maintype="text", subtype="html", filename=report.name)
    return message


def send_report(cfg: SmtpSettings, report: Path, recipients: list[str], subject: str,
                environ: dict[str, str]) -> None:
    """Deliver the report over SMTP."""
    deliver(cfg, report_message(report, cfg.from_addr, recipients, subject), environ)


class _Plain(smtplib.SMTP):
    """Hands its socket to the deadline of the delivery in progress as soon as it exists."""

    def _get_socket(self, host, port, timeout):
        return created(super()._get_socket(host, port, timeout))


class _Tls(smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        return created(super()._get_socket(host, port, timeout))


def _secret(cfg: SmtpSettings, environ: dict[str, str]) -> str:
    if cfg.password_command:
        secret = from_command(cfg.password_command, "[smtp] password_command")
    else:
        secret = from_env(environ, cfg.password_env, "[smtp] password_env")
    remember_login(cfg.username, secret)  # masked wherever a server echoes it, as is or in AUTH PLAIN's base64
    return secret


def deliver(cfg: SmtpSettings, message: EmailMessage, environ: dict[str, str]) -> None:
    """Send ``message`` over SMTP with verified TLS; the password never leaves this function."""
    if cfg.tls == "none" and not is_loopback(cfg.host):
        raise ConfigError(f'[smtp] tls = "none" is refused for {cfg.host}: plain SMTP is only allowed on loopback')
    port = cfg.port or {"ssl": 465, "starttls": 587, "none": 25}[cfg.tls]
    secret = _secret(cfg, environ) if cfg.username else ""
    deadline = Deadline(cfg.timeout)  # `timeout` bounds the whole delivery: a trickling server cannot hold the run
    try:
        with deadline:
            connecting(deadline)
            if cfg.tls == "ssl":
                client = _Tls(cfg.host, port, timeout=cfg.timeout, context=tls_context(cfg.ca_file))
            else:
                client = _Plain(cfg.host, port, timeout=cfg.timeout)
            with client:
                if cfg.tls == "starttls":
                    client.starttls(context=tls_context(cfg.ca_file))
                if cfg.username:
                    client.login(cfg.username, secret)
                client.send_message(message)
    except ssl.SSLCertVerificationError as exc:
        raise FetchError(f"the TLS certificate of {cfg.host} could not be verified ({exc.verify_message})") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise FetchError(f"SMTP login as {cfg.username} on {cfg.host} failed ({exc.smtp_code})") from None
    except (smtplib.SMTPException, OSError) as exc:
        if deadline.expired:
            raise FetchError(f"sending mail through {cfg.host}:{port} did not finish within timeout = {cfg.timeout} s"
                             ) from None
        raise FetchError(mask(f"sending mail through {cfg.host}:{port} failed: {type(exc).__name__}: {exc}")) from None
    finally:
        connecting(None)
