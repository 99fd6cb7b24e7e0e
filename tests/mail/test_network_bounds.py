"""Every network conversation has an overall deadline and a bound on what it may bring (issue #28
item 6): a peer that trickles or floods is an error for that mailbox or channel, never a hang
holding the run lock, never memory growing without end.

The servers are real (Dovecot behind a proxy that trickles or floods its lines). The time
bounds below are liveness checks with wide margins, not performance assertions: before the
fix each of these ran for minutes (or forever)."""

from __future__ import annotations

import threading
from dataclasses import replace


from alertproc.errors import FetchError
from alertproc.mail.imap import ImapMailbox
from helpers.imap_proxy import RewritingProxy
from helpers.imap import ALERTS, ENV, append, imap_cfg

HANG = 60  # seconds: far beyond the 2 s deadline plus retries, far below the old behaviour


def finishes(work):
    """Run ``work`` in a thread; return what it raised (or returned) if it ends within HANG s."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), f"still talking to the server after {HANG} s"
    return outcome


def session(dovecot, proxy, **extra):
    cfg = replace(imap_cfg(dovecot, timeout=2, retries=1, **extra), port=proxy.port)
    return ImapMailbox(cfg, ENV, sleep=lambda s: None)


def search(mailbox):
    mailbox.connect()
    mailbox.select("INBOX")
    return mailbox.call(lambda c: c.search(["ALL"]), "search")


def test_a_trickled_greeting_is_cut_by_the_deadline(dovecot):
    with RewritingProxy(dovecot.port, pace=lambda line: 0.5 if line.startswith(b"* OK") else 0) as proxy:
        outcome = finishes(lambda: session(dovecot, proxy).connect())
    assert isinstance(outcome.get("error"), FetchError), outcome
    assert "did not finish greeting and login within timeout = 2 s" in str(outcome["error"])


def test_a_trickled_answer_to_a_command_is_cut_and_retried_within_the_retries(dovecot):
    append(dovecot, ALERTS[:3])
    with RewritingProxy(dovecot.port, pace=lambda line: 0.5 if line.startswith(b"* SEARCH") else 0) as proxy:
        outcome = finishes(lambda: search(session(dovecot, proxy)))
    assert isinstance(outcome.get("error"), FetchError), outcome
    assert "lost 2 times (no complete answer within timeout = 2 s)" in str(outcome["error"])


def test_endless_untagged_responses_are_refused(dovecot):
    append(dovecot, ALERTS[:1])
    flood = b"* OK [ALERT] still here\r\n" * 60_000

    def rewrite(line):
        return flood + line if line.startswith(b"* SEARCH") else line

    with RewritingProxy(dovecot.port, rewrite=rewrite) as proxy:
        outcome = finishes(lambda: search(session(dovecot, proxy)))
    assert isinstance(outcome.get("error"), FetchError), outcome
    assert "more than 50,000 responses" in str(outcome["error"])


def test_a_giant_literal_is_refused_before_it_is_read(dovecot):
    append(dovecot, ALERTS[:1])

    def rewrite(line):
        if b" FETCH (" in line and line.rstrip().endswith(b"}"):
            return line[:line.rindex(b"{")] + b"{99999999999}\r\n"
        return line

    with RewritingProxy(dovecot.port, rewrite=rewrite) as proxy:
        mailbox = session(dovecot, proxy)

        def fetch():
            uids = search(mailbox)
            return mailbox.call(lambda c: c.fetch(uids, ["BODY.PEEK[]"]), "fetch")

        outcome = finishes(fetch)
    assert isinstance(outcome.get("error"), FetchError), outcome
    assert "99,999,999,999-byte literal" in str(outcome["error"])


def test_a_well_behaved_server_is_untouched_by_the_bounds(dovecot):
    append(dovecot, ALERTS[:3])
    with RewritingProxy(dovecot.port) as proxy:
        mailbox = session(dovecot, proxy)
        uids = search(mailbox)
        fetched = mailbox.call(lambda c: c.fetch(uids, ["BODY.PEEK[]"]), "fetch")
        mailbox.close()
    assert len(uids) == 3 and all(b"gst.gov.in" in d[b"BODY[]"] for d in fetched.values())
