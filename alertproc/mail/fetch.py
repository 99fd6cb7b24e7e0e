"""Sync a mailbox: new alerts searched, archived, loaded and filed away (cleanup later: :mod:`.cleanup`).

:func:`sync` is the one path every :class:`~alertproc.mail.mailbox.Mailbox` goes through, an IMAP
folder or a local Maildir alike. Order of a batch, which is what makes a crash anywhere
harmless: fetch (nothing changes in the mailbox) → archive files synced → database commit →
move → ``sync_state`` advanced. A rerun after a crash fetches the batch again, finds every
message stored (same sha256), adds nothing, and moves what was not moved yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import date

import duckdb

from ..storage.archive import Archive
from ..faults import crash_point
from ..storage.runs import IngestStats
from .ingest import PARALLEL_FROM, ingest_batches, start_workers
from .mailbox import Mailbox, RawMail, SyncState, Wanted, split_batches
from ..reading.parse import ALERT_LIKE_SEARCH, MailReader
from ..reading.senders import GENUINE, SUSPECT_VERDICTS
from ..storage.store import first_row, now

log = logging.getLogger(__name__)
Progress = Callable[[int], None]
# Committed batches are moved together, in groups of at least this many messages: a Maildir
# server pays per MOVE command (Dovecot 2.3 moving 18,000 alerts: 2.4 s of its CPU in commands
# of 1,000, 1.75 s in commands of 5,000, 1.65 s in one). The last group is not overlapped
# with anything, so larger groups than this make the run longer.
MOVE_GROUP = 5_000


@dataclass(frozen=True)
class Filing:
    """Where synced mail goes: alerts to ``filed``, look-alikes to ``suspicious`` ('' keeps them)."""

    filed: str = "GST/Token alerts"
    suspicious: str = "GST/Suspicious"
    mark_seen: bool = False


@dataclass
class FetchResult:
    """What a sync did (or, with ``dry_run``, would do)."""

    account: str | None
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
    filing_skipped: str | None = None  # why nothing was filed although filing was asked for
    plan: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """A JSON-ready summary (no secrets in it: there are none in this object)."""
        return {**asdict(self), "imported": asdict(self.imported)}


def filing_action(row: dict, senders: frozenset[str]) -> str | None:
    """``filed``, ``suspicious`` or None (leave it where it is) for a message row.

    Only GSTN's own mail is filed: an alert whose outer From is a configured sender and whose
    verdict is genuine. A spoof suspect (a configured or look-alike sender failing the check)
    goes to the suspicious folder. A forward — trusted or not, whatever the server's SEARCH
    matched — is a colleague's mail and stays where it is, as does every other mail.
    """
    if row.get("forwarded"):
        return None
    if row["parse_status"] == "suspicious" and row["sender_check"] in SUSPECT_VERDICTS:
        return "suspicious"
    if row["sender_check"] == GENUINE and row.get("from_addr") in senders and row["kind"] is not None:
        return "filed"
    return None


def wanted(reader: MailReader, since: date | None = None, until: date | None = None) -> Wanted:
    """What a sync searches for: the senders (and trusted forwarders) and subjects of every loaded format."""
    return Wanted(tuple(sorted(reader.senders | reader.trusted_forwarders)),
                  tuple(reader.formats.subject_searches(ALERT_LIKE_SEARCH)), since, until)


def _sync_state(con: duckdb.DuckDBPyConnection | None, mailbox: Mailbox) -> SyncState | None:
    if con is None or mailbox.account is None:
        return None
    row = first_row(con, "select uidvalidity, last_uid from sync_state where account = ? and folder = ?",
                    [mailbox.account, mailbox.folder])
    return SyncState(row[0], row[1]) if row else None


def _save_sync_state(con: duckdb.DuckDBPyConnection, mailbox: Mailbox, state: SyncState | None) -> None:
    if state is not None:
        con.execute("insert or replace into sync_state values (?, ?, ?, ?, ?)",
                    [mailbox.account, mailbox.folder, state.uidvalidity, state.last_uid, now()])


def sync(con: duckdb.DuckDBPyConnection | None, mailbox: Mailbox, archive: Archive, reader: MailReader,
         wanted: Wanted, *, filing: Filing | None = Filing(), batch_size: int = 1000, run_id: int | None = None,
         dry_run: bool = False, progress: Progress | None = None) -> FetchResult:
    """Load and file what is new in ``mailbox`` (see the module docstring); ``filing`` None
    only loads.

    ``dry_run`` reads headers only and returns the plan; nothing is archived, stored or
    changed, and ``con`` may be None. A ``wanted`` date window (a backfill) leaves
    ``sync_state`` alone, so later runs still see everything.
    """
    result = FetchResult(mailbox.account, mailbox.folder)

    def expecting(count: int) -> None:
        if not dry_run and count >= PARALLEL_FROM:
            start_workers()  # likely a large first run: the parser workers start while the server searches
    selection = mailbox.new_messages(_sync_state(con, mailbox), replace(wanted, expecting=expecting))
    result.uidvalidity, result.uidnext, result.rescan = selection.uidvalidity, selection.uidnext, selection.rescan
    refs = selection.refs
    result.candidates = len(refs)
    if filing is not None and (refused := mailbox.filing_refused()):
        result.filing_skipped, filing = refused, None
        log.warning("%s: filing skipped: %s", mailbox.account or mailbox.folder, refused)
    targets: dict[str, str] = {}
    if filing is not None and refs:  # a dry run names the folders without creating them
        folder = (lambda path: path) if dry_run else mailbox.ensure_folder
        targets = {"filed": folder(filing.filed)}
        if filing.suspicious:
            targets["suspicious"] = folder(filing.suspicious)
    batches = split_batches(refs, batch_size, mailbox.sizes(refs) if refs else {})
    if dry_run:  # the run's own reading and move plan, on the whole mail, with nothing stored or moved
        for batch in batches:
            mails = mailbox.fetch_batch(batch)
            rows = {mail.sha256: reader.parse(mail.raw).message for mail in mails}
            _plan_moves(mails, rows, targets, result, reader.senders, plan=result.plan)
            if progress:
                progress(len(batch))
    else:
        mark_seen = filing is not None and filing.mark_seen
        for batch in _pipeline(con, mailbox, archive, reader, batches, targets, mark_seen, run_id, result):
            _save_sync_state(con, mailbox, selection.state_after(batch[-1]))
            if progress:
                progress(len(batch))
        _save_sync_state(con, mailbox, selection.final)
    result.imap_commands = mailbox.commands
    return result


def _pipeline(con, mailbox: Mailbox, archive: Archive, reader: MailReader, batches: list[list],
              targets: dict[str, str], mark_seen: bool, run_id: int | None, result: FetchResult) -> Iterator[list]:
    """Process the batches, yielding each one once it is committed *and* moved.

    While batch N is committed, the parser workers read and archive batch N+1, batch N+2 is
    fetched by the mailbox's parallel reader (a second IMAP connection) and earlier batches
    are moved by the mailbox itself, so the network, the server's work and ours overlap.
    Committed batches are moved in groups of ``MOVE_GROUP`` messages. The order that makes
    crashes harmless holds for every batch: its move starts only after its commit, and it is
    yielded (and recorded done) only after its move.
    """
    if not batches:
        return
    group = max(len(batches[0]), MOVE_GROUP)
    reading = mailbox.parallel_reader() if len(batches) > 1 else nullcontext(mailbox)
    with reading as fetcher, ThreadPoolExecutor(max_workers=2, thread_name_prefix="mailbox") as threads:
        def fetched() -> Iterator[list[RawMail]]:
            next_fetch = threads.submit(fetcher.fetch_batch, batches[0])
            for index in range(len(batches)):
                done = next_fetch.result()
                if index + 1 < len(batches):
                    next_fetch = threads.submit(fetcher.fetch_batch, batches[index + 1])
                yield done

        moving: tuple[Future, list[list]] | None = None
        pending: dict[str, list] = {"filed": [], "suspicious": []}
        covered: list[list] = []
        recorded = ingest_batches(con, archive, fetched(), reader, run_id)
        for index, (batch, (mails, stats, outcomes)) in enumerate(zip(batches, recorded)):
            result.imported.add(stats)
            crash_point("after_db_commit")
            for action, refs in _plan_moves(mails, outcomes, targets, result, reader.senders).items():
                pending[action].extend(refs)
            covered.append(batch)
            if index + 1 < len(batches) and sum(map(len, pending.values())) < group:
                continue  # committed; its move waits for a fuller group
            if moving is not None:
                moving[0].result()
                yield from moving[1]
            moving = (threads.submit(_move, mailbox, pending, targets, mark_seen), covered)
            pending, covered = {"filed": [], "suspicious": []}, []
        moving[0].result()
        yield from moving[1]


def _move_ref(mail: RawMail):
    return mail.uid if mail.uid is not None else mail.ref


def _plan_moves(mails: list[RawMail], rows: dict[str, dict], targets: dict[str, str], result: FetchResult,
                senders: frozenset[str], plan: list[dict] | None = None) -> dict[str, list]:
    """Where each mail goes (the run moves them, the dry run lists them in ``plan``)."""
    moves: dict[str, list] = {"filed": [], "suspicious": []}
    for mail in mails:
        row = rows[mail.sha256]
        action = filing_action(row, senders)
        if action and action in targets:
            moves[action].append(_move_ref(mail))
        else:
            action = None
            result.left += 1
        if plan is not None:
            plan.append({"uid": _move_ref(mail), "from": row["from_addr"], "subject": row["subject"],
                         "action": action or "leave"})
    result.filed += len(moves["filed"])
    result.suspicious += len(moves["suspicious"])
    return moves


def _move(mailbox: Mailbox, moves: dict[str, list], targets: dict[str, str], mark_seen: bool) -> None:
    for action, refs in moves.items():
        if refs:
            mailbox.move(refs, targets[action], mark_seen=mark_seen and action == "filed")
            crash_point("after_move")
