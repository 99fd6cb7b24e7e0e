"""What may be shown to a person: secrets the process knows masked out of every message it
prints, logs or stores, and control characters from data made visible (:func:`printable`).

A password or token is remembered the moment it is read (from the environment, a command
or a token cache); :func:`mask` replaces each remembered value in a text. A server error that
echoes the LOGIN line, a token command's stderr or a traceback therefore never shows one —
nor the forms a server or a formatter writes it in: IMAP's quoted string (``\"`` and
``\\``), JSON and Python escapes, base64 of the secret, and (:func:`remember_login`) the
base64 of the whole XOAUTH2 or SASL PLAIN string, in which the secret never appears whole.

Child processes (the notify command, password and token commands) get
:func:`child_environment`: the environment without the variables the config names as
holding secrets, nor any whose value is a remembered secret.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading

MASK = "********"
MIN_LENGTH = 4  # shorter "secrets" would mask ordinary words; no real credential is that short
_known: set[str] = set()
_variables: set[str] = set()
_lock = threading.Lock()


def _forms(secret: str) -> set[str]:
    """``secret`` as it may appear in a text: as is, escaped, base64, and each of those as
    Python shows it inside ``repr`` of a str or of bytes (an exception carrying the server's bytes)."""
    quoted = secret.replace("\\", "\\\\").replace('"', '\\"')  # imaplib's _quote: what LOGIN sends
    forms = {secret, quoted, json.dumps(secret)[1:-1], base64.b64encode(secret.encode()).decode()}
    return forms | {repr(f)[1:-1] for f in forms} | {repr(f.encode())[2:-1] for f in forms}


def remember(secret: str) -> str:
    """Add ``secret`` (and its escaped and base64 forms) to what :func:`mask` hides; returns it unchanged."""
    if secret and len(secret) >= MIN_LENGTH:
        with _lock:
            _known.update(form for form in _forms(secret) if len(form) >= MIN_LENGTH)
    return secret


def remember_login(user: str, secret: str) -> None:
    """Hide the base64 SASL strings a login with ``secret`` sends (and a server may echo):
    XOAUTH2's ``user=…^Aauth=Bearer …^A^A`` and PLAIN's ``\0user\0secret``."""
    remember(secret)
    for sasl in (f"user={user}\x01auth=Bearer {secret}\x01\x01", f"\x00{user}\x00{secret}",
                 f"{user}\x00{user}\x00{secret}"):
        encoded = base64.b64encode(sasl.encode()).decode()
        with _lock:
            _known.add(encoded)
            _known.add(encoded.rstrip("="))


def secret_variable(name: str) -> None:
    """The environment variable ``name`` holds a secret: no child process inherits it."""
    if name:
        with _lock:
            _variables.add(name)


def child_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) without secret variables, for a child process."""
    with _lock:
        names, known = set(_variables), set(_known)
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if k not in names and v not in known}


def mask(text: str) -> str:
    """``text`` with every remembered secret replaced by ``********`` (longest first, so a
    secret that contains another is masked whole)."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class MaskingFilter(logging.Filter):
    """A logging filter that masks secrets in each record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_filter() -> None:
    """Mask secrets in whatever the root logger's handlers write."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())


# Control characters from data (an ASP name, a subject, a server's text) would drive the terminal:
# ESC[2J clears it and ESC[32m paints a fake verdict; OSC 8/0 set links and titles even in a pipe
# read later. C0 (but tab and newline), DEL and C1 are shown as \xNN instead.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with every control character shown as ``\\xNN``: for human output; CSV and JSON stay exact."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)
