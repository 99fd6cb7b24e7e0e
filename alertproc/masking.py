"""Secrets the process knows, masked out of every message it prints, logs or stores.

A password or token is remembered the moment it is read (from the environment, a command
or a token cache); :func:`mask` replaces each remembered value in a text. A server error that
echoes the LOGIN line, a token command's stderr or a traceback therefore never shows one.
"""

from __future__ import annotations

import logging
import threading

MASK = "********"
MIN_LENGTH = 4  # shorter "secrets" would mask ordinary words; no real credential is that short
_known: set[str] = set()
_lock = threading.Lock()


def remember(secret: str) -> str:
    """Add ``secret`` to what :func:`mask` hides; returns it unchanged."""
    if secret and len(secret) >= MIN_LENGTH:
        with _lock:
            _known.add(secret)
    return secret


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
