"""A real IMAP server's mailbox as the tests fill and read it: the sample's mail with CRLF line
ends, appended with its Date as the arrival time; what a folder holds; a fetch of one account."""

from __future__ import annotations

import email.utils

from alertproc.config import imap_settings
from alertproc.storage import store

from . import fetch_one, make
from .dovecot import PASSWORD, USER, Dovecot

ENV = {"TEST_IMAP_PASSWORD": PASSWORD}
FILED, SUSPICIOUS = "GST.Token alerts", "GST.Suspicious"


def scenario(slugs=None, limit=None):
    """Sample mails with CRLF line ends, as an IMAP server stores and returns them."""
    mails = [(slug, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")) for slug, raw in make.scenario()
             if slugs is None or slug in slugs]
    return mails[:limit] if limit else mails


def append(server: Dovecot, mails, folder="INBOX", flags=(), user=USER):
    client = server.client(user)
    if not client.folder_exists(folder):
        client.create_folder(folder)
    for _, raw in mails:
        date_header = email.message_from_bytes(raw).get("Date")
        when = email.utils.parsedate_to_datetime(date_header) if date_header else None
        client.append(folder, raw, flags=flags, msg_time=when)
    client.logout()


def contents(server: Dovecot, folder: str, user=USER) -> list[tuple[bytes, tuple]]:
    """(raw bytes, flags) of every message in a folder, sorted: what a user would see."""
    client = server.client(user)
    if not client.folder_exists(folder):
        client.logout()
        return []
    client.select_folder(folder, readonly=True)
    uids = client.search(["ALL"])
    data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
    client.logout()
    # \\Recent is per session, not something a user sees change.
    return sorted((d[b"BODY[]"], tuple(sorted(f for f in d[b"FLAGS"] if f != b"\\Recent"))) for d in data.values())


def imap_cfg(server: Dovecot, **extra):
    values = {"host": "127.0.0.1", "port": server.port, "tls": "none", "username": getattr(server, "user", USER),
              "password_env": "TEST_IMAP_PASSWORD", **extra}
    return imap_settings(values, "test")


def fetch(settings, server, **options):
    return fetch_one(settings, options.pop("cfg", None) or imap_cfg(server), environ=ENV, **options)


def counts(settings):
    con = store.connect(settings.db, read_only=True)
    try:
        return con.execute("select (select count(*) from messages), (select count(*) from events)").fetchone()
    finally:
        con.close()


ALERTS = scenario({"refresh", "refresh-table", "consent", "revoked", "access-changed", "otp"}, limit=40)
NOT_ALERTS = scenario({"gst-notice", "other", "forwarded-inline", "forwarded-attachment"})
SPOOFS = scenario({"spoofed-dmarc-fail", "spoofed-lookalike"})
