"""Tell people about new findings at once: e-mail, a webhook (Slack/Teams), or a command.

Each finding is announced once per channel: a ``sent`` row in ``notifications`` stops every
later run from sending it again. A channel that fails is retried with backoff, recorded as
``failed``, and tried again on the next run.
"""

from __future__ import annotations

import json
import re
import logging
import shlex
import smtplib
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import duckdb

from .domain import SEVERITIES, backoff
from .config import NotifySettings, SmtpSettings
from .errors import AlertprocError
from .mailer import deliver
from .store import now, records

log = logging.getLogger(__name__)


@dataclass
class NotifyResult:
    """How many findings each channel announced, and what failed."""

    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def pending(con: duckdb.DuckDBPyConnection, channel: str, min_severity: str) -> list[dict]:
    """Findings at or above ``min_severity`` not yet sent on ``channel``, oldest first."""
    wanted = list(SEVERITIES[: SEVERITIES.index(min_severity) + 1])
    return records(con, """
        select finding_id, rule_id, severity, gstin, asp_name,
               strftime(timezone('Asia/Kolkata', occurred_at), '%d-%m-%Y %H:%M') as occurred_ist, title, detail
        from findings_triaged f
        where list_contains(?, severity) and triage_status <> 'suppressed'  -- a suppressed one is never announced
          and not exists (select 1 from notifications n where n.finding_id = f.finding_id
                          and n.channel = ? and n.status = 'sent')
        order by occurred_at, finding_id""", [wanted, channel])


def summary_text(findings: list[dict]) -> str:
    """Plain text: one line per finding, most severe first."""
    ordered = sorted(findings, key=lambda f: SEVERITIES.index(f["severity"]))
    lines = [f"alertproc: {len(findings)} new finding(s)"]
    lines += [f"[{f['severity'].upper()}] {f['title']} — {f['occurred_ist']} IST ({f['rule_id']})" for f in ordered]
    return "\n".join(lines)


def _email(smtp: SmtpSettings, recipients: tuple[str, ...], findings: list[dict], environ: dict[str, str]) -> None:
    message = EmailMessage()
    message["From"], message["To"] = smtp.from_addr, ", ".join(recipients)
    message["Subject"] = f"alertproc: {len(findings)} new finding(s), {findings[0]['severity']} first"
    message["Date"], message["Message-ID"] = formatdate(localtime=True), make_msgid("alertproc")
    message.set_content(summary_text(findings) + "\n\n" + "\n\n".join(f"{f['title']}\n{f['detail']}" for f in findings))
    deliver(smtp, message, environ)


TEAMS_HOSTS = ("office.com", "office365.com", "logic.azure.com", "powerplatform.com")
_TEAMS_MARKDOWN = re.compile(r"([\\`*_\[\]()#~|])")  # what makes emphasis, links, code, tables


def webhook_format(url: str, configured: str = "auto") -> str:
    """``slack`` or ``teams``: how the webhook's ``text`` is marked up (``auto``: by its host)."""
    if configured != "auto":
        return configured
    host = (urllib.parse.urlparse(url).hostname or "").lower()
    return "teams" if any(host == h or host.endswith("." + h) for h in TEAMS_HOSTS) else "slack"


def marked_up(text: str, kind: str) -> str:
    """``text`` escaped for the target's markup, so a finding's words stay words: an ASP name
    like ``<!channel>`` or ``<https://evil|Revoke>`` would otherwise ping everyone or show a
    link that says one thing and goes elsewhere. Slack: ``& < >`` as entities (its only
    escapes). Teams: the same, and Markdown's characters backslash-escaped."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _TEAMS_MARKDOWN.sub(r"\\\1", text) if kind == "teams" else text


def _webhook(url: str, findings: list[dict], timeout: int, kind: str = "slack") -> None:
    body = json.dumps({"text": marked_up(summary_text(findings), kind), "findings": findings}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # TLS verified by default
        if response.status >= 300:
            raise AlertprocError(f"webhook answered HTTP {response.status}")


def _command(command: str, findings: list[dict], timeout: int) -> None:
    done = subprocess.run(shlex.split(command), input=json.dumps({"findings": findings}), text=True,
                          capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AlertprocError(f"notify command exited {done.returncode}")


def notify(con: duckdb.DuckDBPyConnection, cfg: NotifySettings, smtp: SmtpSettings | None,
           environ: dict[str, str], sleep: Callable[[float], None] = time.sleep) -> NotifyResult:
    """Send every pending finding on every configured channel; record what was sent."""
    channels: dict[str, Callable[[list[dict]], None]] = {}
    if cfg.email:
        if smtp is None:
            raise AlertprocError("[notify] email needs an [smtp] section in the config")
        channels["email"] = lambda found: _email(smtp, cfg.email, found, environ)
    if cfg.webhook_url:
        kind = webhook_format(cfg.webhook_url, cfg.webhook_format)
        channels["webhook"] = lambda found: _webhook(cfg.webhook_url, found, cfg.timeout, kind)
    if cfg.command:
        channels["command"] = lambda found: _command(cfg.command, found, cfg.timeout)
    result = NotifyResult()
    for channel, send in channels.items():
        findings = pending(con, channel, cfg.min_severity)
        if not findings:
            continue
        error = None
        for attempt in range(1, cfg.retries + 1):
            try:
                send(findings)
                error = None
                break
            except (AlertprocError, OSError, smtplib.SMTPException, subprocess.SubprocessError, ValueError) as exc:
                error = f"{type(exc).__name__}: {str(exc)[:200]}"
                log.warning("notify %s: attempt %d failed: %s", channel, attempt, error)
                if attempt < cfg.retries:
                    sleep(backoff(attempt, 30))
        status = "failed" if error else "sent"
        con.executemany("insert into notifications values (?, ?, ?, ?, ?, ?)",
                        [[f["finding_id"], channel, status, attempt, now(), error] for f in findings])
        if error:
            result.failed[channel] = error
        else:
            result.sent[channel] = len(findings)
    return result
