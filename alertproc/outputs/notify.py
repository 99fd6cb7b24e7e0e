"""Tell people about new findings at once: e-mail, a webhook (Slack/Teams), or a command.

Each finding is announced once per channel: a ``sent`` row in ``notifications`` stops every
later run from sending it again. Findings go in batches that fit the channel's size limit
(Teams refuses a webhook body over 28 KB), each field of a finding cut to a sane length with
a note, so one finding claiming a 100 KB ASP name can neither be refused itself nor take
the others down with it. A batch that fails is retried with backoff, recorded as
``failed``, and tried again on the next run; every conversation has an overall deadline.
"""

from __future__ import annotations

import json
import re
import logging
import shlex
import smtplib
import subprocess
import time
import http.client
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import duckdb

from ..deadline import Deadline, connecting, created
from ..domain import SEVERITIES, backoff
from ..config import NotifySettings, SmtpSettings
from ..errors import AlertprocError
from .mailer import deliver
from ..masking import child_environment, mask
from ..storage.store import now, records

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


# Bytes one message of a channel may carry: Teams refuses a webhook body over 28 KB, Slack
# shows 40,000 characters of text; a mail or a command takes more, but a huge one helps nobody.
LIMITS = {"teams": 25_000, "slack": 35_000, "email": 500_000, "command": 1_000_000}
# Characters of a finding's field in a notification (the report and `alertproc explain` have it all).
FIELD_LIMITS = {"gstin": 40, "asp_name": 200, "title": 300, "detail": 2_000}
MAX_ANSWER = 64 * 1024  # bytes of a webhook's answer read: only its status matters


def trimmed(finding: dict) -> dict:
    """``finding`` with each long field cut, saying so (a spoof may claim any ASP name)."""
    out = dict(finding)
    for key, limit in FIELD_LIMITS.items():
        value = out.get(key)
        if isinstance(value, str) and len(value) > limit:
            out[key] = value[:limit] + f"… [cut: {len(value):,} characters; the report has it all]"
    return out


def batches(findings: list[dict], encode: Callable[[list[dict]], bytes], limit: int) -> list[list[dict]]:
    """``findings`` in order, in groups whose encoded message stays within ``limit`` bytes
    (a single finding over it goes alone: it is trimmed already, and only it may fail)."""
    base = len(encode([]))
    groups: list[list[dict]] = []
    group: list[dict] = []
    size = base
    for finding in findings:
        extra = len(encode([finding])) - base + 16  # separators and the count in the summary line
        if group and size + extra > limit:
            groups.append(group)
            group, size = [], base
        group.append(finding)
        size += extra
    return groups + [group] if group else groups


def summary_text(findings: list[dict]) -> str:
    """Plain text: one line per finding, most severe first."""
    ordered = sorted(findings, key=lambda f: SEVERITIES.index(f["severity"]))
    lines = [f"alertproc: {len(findings)} new finding(s)"]
    lines += [f"[{f['severity'].upper()}] {f['title']} — {f['occurred_ist']} IST ({f['rule_id']})" for f in ordered]
    return "\n".join(lines)


def _email_body(findings: list[dict]) -> str:
    return summary_text(findings) + "\n\n" + "\n\n".join(f"{f['title']}\n{f['detail']}" for f in findings)


def _email(smtp: SmtpSettings, recipients: tuple[str, ...], findings: list[dict], environ: dict[str, str]) -> None:
    message = EmailMessage()
    message["From"], message["To"] = smtp.from_addr, ", ".join(recipients)
    message["Subject"] = f"alertproc: {len(findings)} new finding(s), {findings[0]['severity']} first"
    message["Date"], message["Message-ID"] = formatdate(localtime=True), make_msgid("alertproc")
    message.set_content(_email_body(findings))
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


def _webhook_body(findings: list[dict], kind: str) -> bytes:
    return json.dumps({"text": marked_up(summary_text(findings), kind), "findings": findings}).encode()


class _Plain(http.client.HTTPConnection):
    """Hands its socket to the deadline of the request in progress as soon as it exists."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        connect = self._create_connection
        self._create_connection = lambda *a, **k: created(connect(*a, **k))


class _Tls(_Plain, http.client.HTTPSConnection):
    pass


class _PlainHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_Plain, req)


class _TlsHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_Tls, req, context=self._context)  # TLS verified: the default context


def _webhook(url: str, body: bytes, timeout: int) -> None:
    """POST ``body``; the whole exchange (connect, TLS, answer) within ``timeout`` seconds."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    deadline = Deadline(timeout)
    try:
        with deadline:
            connecting(deadline)
            with urllib.request.build_opener(_PlainHandler, _TlsHandler).open(request, timeout=timeout) as response:
                response.read(MAX_ANSWER)
                if response.status >= 300:
                    raise AlertprocError(f"webhook answered HTTP {response.status}")
    except (OSError, http.client.HTTPException):
        if deadline.expired:
            raise AlertprocError(f"webhook did not answer within timeout = {timeout} s") from None
        raise
    finally:
        connecting(None)


def _command(command: str, findings: list[dict], timeout: int) -> None:
    done = subprocess.run(shlex.split(command), input=json.dumps({"findings": findings}), text=True,
                          capture_output=True, timeout=timeout, check=False, env=child_environment())
    if done.returncode != 0:
        raise AlertprocError(f"notify command exited {done.returncode}")


class _Channel:
    """How one channel sends a batch and how big a batch may be."""

    def __init__(self, send: Callable[[list[dict]], None], encode: Callable[[list[dict]], bytes], limit: int):
        self.send, self.encode, self.limit = send, encode, limit


def _channels(cfg: NotifySettings, smtp: SmtpSettings | None, environ: dict[str, str]) -> dict[str, _Channel]:
    channels: dict[str, _Channel] = {}
    if cfg.email:
        if smtp is None:
            raise AlertprocError("[notify] email needs an [smtp] section in the config")
        channels["email"] = _Channel(lambda found: _email(smtp, cfg.email, found, environ),
                                     lambda found: _email_body(found).encode(), LIMITS["email"])
    if cfg.webhook_url:
        kind = webhook_format(cfg.webhook_url, cfg.webhook_format)
        channels["webhook"] = _Channel(lambda found: _webhook(cfg.webhook_url, _webhook_body(found, kind), cfg.timeout),
                                       lambda found: _webhook_body(found, kind), LIMITS[kind])
    if cfg.command:
        channels["command"] = _Channel(lambda found: _command(cfg.command, found, cfg.timeout),
                                       lambda found: json.dumps({"findings": found}).encode(), LIMITS["command"])
    return channels


def _attempt(channel: str, send: Callable[[], None], attempts: int, sleep: Callable[[float], None]) -> tuple[str | None, int]:
    """Send with retries; return the (masked) last error or None, and the attempts made."""
    error = None
    for attempt in range(1, attempts + 1):
        try:
            send()
            return None, attempt
        except (AlertprocError, OSError, http.client.HTTPException, smtplib.SMTPException, subprocess.SubprocessError,
                ValueError) as exc:
            error = mask(f"{type(exc).__name__}: {str(exc)[:200]}")
            log.warning("notify %s: attempt %d failed: %s", channel, attempt, error)
            if attempt < attempts:
                sleep(backoff(attempt, 30))
    return error, attempts


def notify(con: duckdb.DuckDBPyConnection, cfg: NotifySettings, smtp: SmtpSettings | None,
           environ: dict[str, str], sleep: Callable[[float], None] = time.sleep) -> NotifyResult:
    """Send every pending finding on every configured channel, in batches; record what was sent.

    A batch that fails all its attempts does not stop the next; two failing in a row (the
    channel is down, not one batch refused) leave the rest for the next run.
    """
    result = NotifyResult()
    for name, channel in _channels(cfg, smtp, environ).items():
        findings = [trimmed(f) for f in pending(con, name, cfg.min_severity)]
        failures_in_a_row = 0
        for batch in batches(findings, channel.encode, channel.limit):
            if failures_in_a_row >= 2:
                error, attempt = "not tried: the two batches before failed; the next run tries again", 0
            else:
                error, attempt = _attempt(name, lambda: channel.send(batch), max(1, cfg.retries) if not failures_in_a_row else 1,
                                          sleep)
            failures_in_a_row = failures_in_a_row + 1 if error else 0
            con.executemany("insert into notifications values (?, ?, ?, ?, ?, ?)",
                            [[f["finding_id"], name, "failed" if error else "sent", attempt, now(), error] for f in batch])
            if error:
                result.failed[name] = error
            else:
                result.sent[name] = result.sent.get(name, 0) + len(batch)
    return result
