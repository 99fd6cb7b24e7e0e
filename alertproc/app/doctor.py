"""``alertproc doctor``: check a set-up, each failing line with what to do."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from ..audit.layers import formats_of, rule_dirs, rules_of
from ..audit.policy import policy_of, unchecked
from ..config import ImapSettings, Settings
from ..errors import AlertprocError
from ..mail.fetch import wanted as wanted_of
from ..mail.imap import ImapMailbox, search_criteria
from ..mail.mailbox import Wanted
from ..mail.oauth import token_status
from ..reading.parse import MailReader
from ..storage import store


@dataclass
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    advice: str = ""
    warning: bool = False  # ok to run, but not what the user will want (no policy, init's example)


def _check(name: str, action, advice: str) -> Check:
    try:
        return Check(name, True, action() or "ok")
    except AlertprocError as exc:
        return Check(name, False, str(exc).splitlines()[0], advice)
    except Exception as exc:  # the doctor reports whatever is wrong instead of dying on it
        return Check(name, False, f"{type(exc).__name__}: {exc}", advice)


def _database(settings: Settings, reading: Callable[[], duckdb.DuckDBPyConnection]) -> str:
    if not Path(settings.db).exists():
        parent = Path(settings.db).resolve().parent
        if not os.access(parent, os.W_OK):
            raise AlertprocError(f"{parent} is not writable")
        return f"{settings.db} will be created on the first run"
    con = reading()
    version = store.scalar(con, "select max(version) from schema_version")
    runs = store.first_row(con, "select count(*), max(started_at) from runs")
    return f"{settings.db}: schema {version} (current {store.SCHEMA_VERSION}), {runs[0]} runs, last {runs[1]}"


def _policy(settings: Settings) -> Check:
    """The policy is optional: without one (or with init's example left as it was) a run loads
    everything and skips the approval rules, which the doctor says as a warning, not a failure."""
    try:
        policy = policy_of(settings)
    except AlertprocError as exc:
        return Check("policy", False, str(exc).splitlines()[0], "fix the file at the line named")
    why = unchecked(settings, policy)
    if why:
        return Check("policy", True, why, warning=True)  # the detail says what to do
    return Check("policy", True, f"{len(policy.gstins)} GSTINs, {len(policy.approvals)} approvals in {settings.policy}")


def _archive(settings: Settings) -> str:
    root = Path(settings.archive)
    target = root if root.exists() else root.resolve().parent
    if not os.access(target, os.W_OK):
        raise AlertprocError(f"{target} is not writable")
    return f"{root} writable"


def _rules(settings: Settings) -> str:
    rules, problems = rules_of(settings)
    if problems:
        raise AlertprocError("; ".join(problems))
    return f"{len(rules)} rules from {', '.join(map(str, rule_dirs(settings)))}"


def _imap_checks(imap: ImapSettings, environ: dict[str, str], wanted: Wanted) -> list[Check]:
    mailbox = ImapMailbox(imap, environ)
    checks = []
    token = token_status(imap, environ)
    if token is not None:
        checks.append(Check("oauth2 token", token.valid, f"{token.provider}, {token.flow}: {token.detail}",
                            f"alertproc auth login --account {imap.label}" if not token.valid else ""))
    checks += [_check("imap login", lambda: (mailbox.connect(), f"logged in to {imap.host} as {imap.username}")[1],
                     "check host, port, tls, ca_file and the password or token source")]
    if not checks[-1].ok:
        return checks
    try:
        checks.append(_check("imap folder", lambda: f"{imap.folder}: {mailbox.select(imap.folder).exists} messages",
                             "set folder to an existing folder (see your mail client)"))
        moves = "MOVE" if mailbox.has("MOVE") else "COPY+UID EXPUNGE" if mailbox.has("UIDPLUS") else None
        checks.append(Check("imap capabilities", moves is not None,
                            f"filing with {moves or 'nothing: neither MOVE nor UIDPLUS'}; {_listening(mailbox, imap)}",
                            "" if moves else "run fetch with --no-file-away"))
        if mailbox.selected and not mailbox.selected.uidnext:
            checks.append(Check("imap uidnext", True, "SELECT gives no UIDNEXT (Courier does so): every fetch asks "
                                                      "for the highest UID instead, one command more"))
        prefix, delimiter = mailbox.personal_namespace()
        checks.append(Check("imap namespace", True, f"personal prefix '{prefix}', delimiter '{delimiter}'"))
        for key in ("filed_folder", "suspicious_folder"):
            path = getattr(imap, key)
            if path:
                name = mailbox.server_name(path)
                exists = mailbox.call(lambda c: c.folder_exists(name), "list")
                checks.append(Check(key, True, f"{name} {'exists' if exists else 'will be created on the first fetch'}"))
        checks.append(_check("imap search", lambda: _cross_check_search(mailbox, imap),
                             "this server's SEARCH cannot be trusted: tell us which server it is"))
        checks.append(_check("imap fetch search", lambda: _fetch_search(mailbox, imap, wanted),
                             "the server refuses the search `fetch` sends (FROM and SUBJECT in nested OR, RFC 3501): "
                             "ask its administrator; setting lookalike_search = \"\" and fewer formats shortens it"))
    finally:
        mailbox.close()
    return checks


def _cross_check_search(mailbox: ImapMailbox, imap: ImapSettings) -> str:
    """SEARCH ALL, a UID range and a FROM search must agree with what FETCH sees: a server
    that reads ``UID 1:*`` as message numbers (GNU imap4d) would make every sync find nothing."""
    mailbox.select(imap.folder)
    every = mailbox.search(["ALL"])
    if not every:
        return "folder empty: nothing to cross-check"
    by_uid = mailbox.search(["UID", f"{every[0]}:{every[-1]}"])
    fetched = sorted(mailbox.fetch(every[-50:], ["UID"]))
    if by_uid != every or fetched != every[-50:]:
        raise AlertprocError(f"SEARCH ALL found {len(every)}, SEARCH UID {every[0]}:{every[-1]} found {len(by_uid)}, "
                             f"FETCH saw {len(fetched)} of the last {len(every[-50:])}")
    return f"SEARCH ALL, SEARCH UID and FETCH agree on {len(every)} messages"


def _listening(mailbox: ImapMailbox, imap: ImapSettings) -> str:
    """What ``watch`` will do on this server. Whether an IDLE server really notifies cannot be
    seen without new mail arriving (GNU imap4d announces IDLE and never does, and names itself
    nowhere): watch checks STATUS every poll_seconds anyway and logs a server that stayed silent."""
    if not mailbox.has("IDLE"):
        return f"no IDLE: watch polls every {imap.poll_seconds} s"
    return (f"IDLE; not every server that announces it notifies (GNU imap4d does not): watch also checks every "
            f"{imap.poll_seconds} s (poll_seconds) and says so in its log when IDLE stayed silent")


def _fetch_search(mailbox: ImapMailbox, imap: ImapSettings, wanted: Wanted) -> str:
    """The exact search a first ``fetch`` sends, run now: a server that answers BAD to it fails here."""
    state = mailbox.select(imap.folder)
    highest = mailbox.highest_uid(state.exists)
    if not highest:
        return "folder empty: the search would not be sent"
    found = mailbox.search(search_criteria(imap, list(wanted.senders), list(wanted.subjects), f"1:{highest}"))
    return f"the search of `fetch` runs: {len(found)} possible alerts in {imap.folder}"


def diagnose(settings: Settings, accounts: tuple[ImapSettings, ...], environ: dict[str, str],
             reader: Callable[[], MailReader], reading: Callable[[], duckdb.DuckDBPyConnection]) -> list[Check]:
    """Check everything a run needs, each with advice when it fails (``reader``: how mail is
    read; ``reading``: the database opened read-only)."""
    checks = [
        _check("database", lambda: _database(settings, reading), "pass --db, or wait for the running alertproc to finish"),
        _check("archive", lambda: _archive(settings), "pass --archive with a writable folder"),
        _policy(settings),
        _check("formats", lambda: f"{len(formats_of(settings).formats)} alert formats",
               "fix the format file named"),
        _check("rules", lambda: _rules(settings), "fix the rule file named"),
    ]
    wanted = wanted_of(reader()) if accounts else Wanted()
    for imap in accounts:
        found = _imap_checks(imap, environ, wanted)
        if len(accounts) > 1:  # say whose: "pune-office imap login"
            found = [replace(check, name=f"{imap.label} {check.name}") for check in found]
        checks += found
    return checks
