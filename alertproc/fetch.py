"""Fetch alerts from an IMAP folder: search, archive, load, file away — and clean up later.

Order of a batch, which is what makes a crash anywhere harmless: FETCH (nothing changes on
the server) → archive files synced → database commit → UID MOVE → ``sync_state`` advanced.
A rerun after a crash fetches the batch again, finds every message stored (same sha256),
adds nothing, and moves what was not moved yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone

import duckdb

from .archive import Archive, sha256_hex
from .config import ImapSettings
from .errors import ConfigError, FetchError
from .faults import crash_point
from .imap import FETCH_PARTS, FolderState, ImapMailbox, any_of
from .ingest import PARALLEL_FROM, IngestStats, ingest_batches, start_workers
from .parse import MailReader
from .senders import GENUINE
from .sources import RawMail
from .store import first_row, now

log = logging.getLogger(__name__)
Progress = Callable[[int], None]
# Committed batches are moved together, in groups of at least this many UIDs: a Maildir
# server pays per MOVE command (Dovecot 2.3 moving 18,000 alerts: 2.4 s of its CPU in commands
# of 1,000, 1.75 s in commands of 5,000, 1.65 s in one). The last group is not overlapped
# with anything, so larger groups than this make the run longer.
MOVE_GROUP = 5_000


@dataclass
class FetchResult:
    """What a fetch did (or, with ``dry_run``, would do)."""

    account: str
    folder: str
    uidvalidity: int = 0
    uidnext: int = 0
    rescan: bool = False
    candidates: int = 0
    imported: IngestStats = field(default_factory=IngestStats)
    filed: int = 0
    suspicious: int = 0
    left: int = 0
    imap_commands: int = 0
    plan: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """A JSON-ready summary (no secrets in it: there are none in this object)."""
        return {**asdict(self), "imported": asdict(self.imported)}


def search_criteria(cfg: ImapSettings, senders: list[str], subjects: list[str], first_uid: int,
                    since: date | None = None, until: date | None = None) -> list:
    """Server-side selection: UIDs from ``first_uid``, a GST (or look-alike) sender, an alert subject."""
    froms = sorted(senders) + ([cfg.lookalike_search] if cfg.lookalike_search else [])
    criteria: list = ["UID", f"{first_uid}:*", any_of("FROM", froms), any_of("SUBJECT", subjects)]
    if since:
        criteria += ["SINCE", since]
    if until:
        criteria += ["BEFORE", until + timedelta(days=1)]
    return criteria


def filing_action(row: dict) -> str | None:
    """``filed``, ``suspicious`` or None (leave it where it is) for a stored message row."""
    if row["parse_status"] == "suspicious":
        return "suspicious"
    if row["sender_check"] == GENUINE and row["kind"] is not None:
        return "filed"
    return None


def _sync_state(con: duckdb.DuckDBPyConnection | None, account: str, folder: str) -> tuple[int, int] | None:
    if con is None:
        return None
    row = first_row(con, "select uidvalidity, last_uid from sync_state where account = ? and folder = ?",
                    [account, folder])
    return (row[0], row[1]) if row else None


def _save_sync_state(con: duckdb.DuckDBPyConnection, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
    con.execute("insert or replace into sync_state values (?, ?, ?, ?, ?)",
                [account, folder, uidvalidity, last_uid, now()])


def _raw_mails(fetched: dict[int, dict], state: FolderState, account: str) -> list[RawMail]:
    mails = []
    for uid in sorted(fetched):
        data = fetched[uid]
        raw = data.get(b"BODY[]")
        if raw is None:  # expunged by someone else between SEARCH and FETCH: nothing to keep
            continue
        internal = data.get(b"INTERNALDATE")
        if isinstance(internal, datetime):  # in UTC: imapclient's own tzinfo cannot be pickled to a worker
            internal = internal.replace(tzinfo=timezone.utc) if internal.tzinfo is None else internal.astimezone(timezone.utc)
        mails.append(RawMail(raw, "imap", f"{state.name}/{uid}", folder=state.name, uid=uid,
                             uidvalidity=state.uidvalidity, account=account, internal_date=internal))
    return mails


def fetch(con: duckdb.DuckDBPyConnection | None, mailbox: ImapMailbox, archive: Archive, reader: MailReader,
          subjects: list[str], *, run_id: int | None = None, dry_run: bool = False, file_away: bool = True,
          since: date | None = None, until: date | None = None, progress: Progress | None = None) -> FetchResult:
    """Fetch new alerts from ``mailbox``'s configured folder (see the module docstring).

    ``dry_run`` reads headers only and returns the plan; nothing is archived, stored or
    changed on the server, and ``con`` may be None. ``since``/``until`` limit a backfill to a
    date window and leave ``sync_state`` alone, so later runs still see everything.
    """
    cfg = mailbox.cfg
    result = FetchResult(cfg.account, cfg.folder)
    state = mailbox.select(cfg.folder)
    result.uidvalidity, result.uidnext = state.uidvalidity, state.uidnext
    saved = _sync_state(con, cfg.account, cfg.folder)
    last_uid = saved[1] if saved and saved[0] == state.uidvalidity else 0
    result.rescan = saved is not None and saved[0] != state.uidvalidity
    windowed = since is not None or until is not None
    if not windowed and state.uidnext and state.uidnext - 1 <= last_uid:
        result.imap_commands = mailbox.commands
        return result  # nothing new: LOGIN + SELECT, whatever the mailbox size
    if not dry_run and state.uidnext and state.uidnext - 1 - last_uid >= PARALLEL_FROM:
        start_workers()  # likely a large first run: the parser workers start while the server searches
    criteria = search_criteria(cfg, sorted(reader.senders), subjects, last_uid + 1, since, until)
    uids = [uid for uid in mailbox.search(criteria) if uid > last_uid]  # "n:*" always returns the highest UID
    result.candidates = len(uids)
    targets: dict[str, str] = {}
    if file_away and not dry_run and uids:
        targets = {"filed": mailbox.ensure_folder(cfg.filed_folder)}
        if cfg.suspicious_folder:
            targets["suspicious"] = mailbox.ensure_folder(cfg.suspicious_folder)
        mailbox.select(cfg.folder)
    batches = [uids[start:start + cfg.batch_size] for start in range(0, len(uids), cfg.batch_size)]
    if dry_run:
        for batch in batches:
            _plan_batch(mailbox, reader, batch, result)
            if progress:
                progress(len(batch))
    else:
        done = _pipeline(con, mailbox, archive, reader, state, batches, targets, run_id, result)
        for batch in done:
            if not windowed:
                _save_sync_state(con, cfg.account, cfg.folder, state.uidvalidity, batch[-1])
            if progress:
                progress(len(batch))
    if not dry_run and not windowed and state.uidnext:
        # Mail that is not an alert also moves UIDNEXT on; remember it so the next no-op stays cheap.
        _save_sync_state(con, cfg.account, cfg.folder, state.uidvalidity, max(last_uid, *uids, state.uidnext - 1))
    result.imap_commands = mailbox.commands
    return result


def _pipeline(con, mailbox: ImapMailbox, archive: Archive, reader: MailReader, state: FolderState,
              batches: list[list[int]], targets: dict[str, str], run_id: int | None,
              result: FetchResult) -> Iterator[list[int]]:
    """Process the batches, yielding each one once it is committed *and* moved.

    While batch N is committed, the parser workers read and archive batch N+1, batch N+2 is
    fetched on a second connection and earlier batches are moved on this one, so the
    network, the server's work and ours overlap. Committed batches are moved in groups of
    ``MOVE_GROUP`` UIDs. The order that makes crashes harmless holds for every batch: its
    MOVE starts only after its commit, and it is yielded (and its UIDs recorded done) only
    after its MOVE.
    """
    if not batches:
        return
    cfg = mailbox.cfg
    fetcher = mailbox
    if len(batches) > 1:
        fetcher = ImapMailbox(cfg, mailbox.environ, mailbox.sleep)
        fetcher.connect()
        if fetcher.select(cfg.folder).uidvalidity != state.uidvalidity:
            fetcher.close()
            raise FetchError(f"UIDVALIDITY of {cfg.folder} changed during the run; nothing was lost, run again")
    group = max(cfg.batch_size, MOVE_GROUP)

    def fetched(threads: ThreadPoolExecutor) -> Iterator[list[RawMail]]:
        next_fetch = threads.submit(fetcher.fetch, batches[0], FETCH_PARTS)
        for index in range(len(batches)):
            done = next_fetch.result()
            if index + 1 < len(batches):
                next_fetch = threads.submit(fetcher.fetch, batches[index + 1], FETCH_PARTS)
            yield _raw_mails(done, state, cfg.account)

    try:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="imap") as threads:
            moving: tuple[Future, list[list[int]]] | None = None
            pending: dict[str, list[int]] = {"filed": [], "suspicious": []}
            covered: list[list[int]] = []
            recorded = ingest_batches(con, archive, fetched(threads), reader, run_id)
            for index, (batch, (mails, stats, outcomes)) in enumerate(zip(batches, recorded)):
                result.imported.add(stats)
                crash_point("after_db_commit")
                for action, uids in _plan_moves(mails, outcomes, targets, result).items():
                    pending[action].extend(uids)
                covered.append(batch)
                if index + 1 < len(batches) and sum(map(len, pending.values())) < group:
                    continue  # committed; its move waits for a fuller group
                if moving is not None:
                    moving[0].result()
                    yield from moving[1]
                moving = (threads.submit(_move, mailbox, pending, targets), covered)
                pending, covered = {"filed": [], "suspicious": []}, []
            moving[0].result()
            yield from moving[1]
    finally:
        if fetcher is not mailbox:
            fetcher.close()


def _plan_moves(mails: list[RawMail], rows: dict[str, dict], targets: dict[str, str],
                result: FetchResult) -> dict[str, list[int]]:
    moves: dict[str, list[int]] = {"filed": [], "suspicious": []}
    for mail in mails:
        action = filing_action(rows[mail.sha256])
        if action and action in targets:
            moves[action].append(mail.uid)
        else:
            result.left += 1
    result.filed += len(moves["filed"])
    result.suspicious += len(moves["suspicious"])
    return moves


def _move(mailbox: ImapMailbox, moves: dict[str, list[int]], targets: dict[str, str]) -> None:
    for action, uids in moves.items():
        if uids:
            mailbox.move(uids, targets[action], mark_seen=mailbox.cfg.mark_seen and action == "filed")
            crash_point("after_move")


def _plan_batch(mailbox: ImapMailbox, reader: MailReader, batch: list[int], result: FetchResult) -> None:
    for uid, data in sorted(mailbox.fetch(batch, ["BODY.PEEK[HEADER]"]).items()):
        header = data.get(b"BODY[HEADER]") or b""
        message = reader.parse(header + b"\r\n").message
        action = filing_action(message)
        result.plan.append({"uid": uid, "from": message["from_addr"], "subject": message["subject"],
                            "action": action or "leave"})
        if action == "filed":
            result.filed += 1
        elif action == "suspicious":
            result.suspicious += 1
        else:
            result.left += 1


def retention_cutoff(older_than: str, today: date) -> date:
    """The first day kept for ``--older-than`` written as ``90d``, ``12w`` or a date ``2026-08-01``."""
    text = older_than.strip().lower()
    units = {"d": 1, "w": 7}
    if text[:-1].isdigit() and text[-1:] in units:
        return today - timedelta(days=int(text[:-1]) * units[text[-1]])
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--older-than '{older_than}': use a number of days or weeks (90d, 12w) or a date") from None


@dataclass
class CleanupResult:
    """What cleanup deleted (or would delete) and what it kept because it could not verify."""

    folder: str
    older_than: date
    candidates: int = 0
    verified: int = 0
    deleted: int = 0
    kept_unverified: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """A JSON-ready summary."""
        return {**asdict(self), "older_than": self.older_than.isoformat()}


def cleanup(con: duckdb.DuckDBPyConnection, mailbox: ImapMailbox, archive: Archive, older_than: date,
            apply: bool = False, progress: Progress | None = None) -> CleanupResult:
    """Delete filed alerts that arrived before ``older_than`` — each only if its archived copy
    exists and its sha256 matches the server's bytes. Without ``apply`` only count."""
    cfg = mailbox.cfg
    folder = mailbox.server_name(cfg.filed_folder)
    result = CleanupResult(folder, older_than)
    mailbox.select(folder)
    uids = mailbox.search(["BEFORE", older_than])
    result.candidates = len(uids)
    for start in range(0, len(uids), cfg.batch_size):
        batch = uids[start:start + cfg.batch_size]
        fetched = mailbox.fetch(batch, ["BODY.PEEK[]"])
        verified = []
        for uid in batch:
            raw = fetched.get(uid, {}).get(b"BODY[]")
            sha = sha256_hex(raw) if raw is not None else None
            row = first_row(con, "select archive_path from messages where sha256 = ?", [sha]) if sha else None
            if row and row[0] and archive.verify(row[0], sha):
                verified.append(uid)
            else:
                reason = "not in the database" if row is None else "archive copy missing or altered"
                result.kept_unverified.append({"uid": uid, "sha256": sha, "reason": reason})
        result.verified += len(verified)
        if apply and verified:
            mailbox.delete(verified)
            crash_point("after_cleanup_delete")
            result.deleted += len(verified)
        if progress:
            progress(len(batch))
    return result
