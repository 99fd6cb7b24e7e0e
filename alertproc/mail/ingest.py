"""Archive, parse and load raw mail in batches: the stage every mail source goes through."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime

import duckdb

from ..storage.archive import Archive
from ..faults import crash_point
from ..reading.parse import MailReader, ParsedMail
from ..reading.senders import GENUINE
from .mailbox import RawMail, batches_of
from ..storage import store
from ..storage.runs import IngestStats
from ..storage.store import insert_batch, message_id_owners, now, stored_messages

DEFAULT_BATCH = 1000
FILING_FIELDS = ("kind", "parse_status", "sender_check", "from_addr", "forwarded")  # what deciding where a mail goes needs
PARALLEL_FROM = 1000  # a full default batch: smaller jobs finish before worker processes would start
_pool: ProcessPoolExecutor | None = None
_pool_failed = False
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    """What a worker does with one mail: parse it and write its archive copy.

    Writing the archive file where the mail was parsed spreads the file writes over the
    cores too; the batch is synced once, in the caller, before anything records it.
    """

    reader: MailReader
    archive: Archive

    def __call__(self, task: tuple[bytes, str, datetime | None]) -> tuple[ParsedMail, str]:
        raw, sha, fallback_date = task
        result = self.reader.parse(raw)
        return result, self.archive.store(raw, sha, result.message["received_at"] or fallback_date)


def start_workers() -> bool:
    """Start the parser worker pool now (it takes a second), if this machine has cores to spare.

    A fetch calls it before its first server round trip, so the workers start while the
    server searches. Returns whether there is a pool.
    """
    global _pool
    cores = os.cpu_count() or 1
    if cores < 2 or _pool_failed:
        return False
    if _pool is None:
        os.environ[_PARENT_ENV] = str(os.getpid())  # tells the fork server, as it imports us, whom to die with
        try:
            _pool = ProcessPoolExecutor(max_workers=min(cores, 4), mp_context=_start_method(),
                                        initializer=die_with_parent, initargs=(os.getpid(),))
            for _ in range(min(cores, 4)):
                _pool.submit(int)  # a worker process is spawned per pending task: get them all going
        finally:
            os.environ.pop(_PARENT_ENV, None)  # the fork server has started: nothing else should inherit it
    return True


_PARENT_ENV = "ALERTPROC_WORKERS_PARENT"
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Make this helper process (a parse worker, the fork server) end when ``parent`` does.

    After ``kill -9`` of alertproc (a cron job killed by its timeout) the workers and their
    fork server would otherwise live on, ~170 MB each time. Linux: the kernel sends SIGKILL
    when the process that started this one dies (the fork server for a worker, alertproc for
    the fork server: a chain). Everywhere: a thread checks every two seconds that ``parent``
    is still there.
    """
    _killed_with_parent()

    def watch() -> None:
        while _alive(parent):  # a pid reused by another user's process (EPERM) counts as gone too
            time.sleep(2)
        os._exit(1)

    if os.getppid() == 1 or not _alive(parent):
        os._exit(1)  # the parent died before we could ask to be told
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _killed_with_parent() -> None:
    """Linux: ask the kernel for SIGKILL when the process that started this one dies."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the worker's watchdog thread does it
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


if os.environ.get(_PARENT_ENV) and os.environ[_PARENT_ENV] != str(os.getpid()):
    # Imported by the fork server as it starts (its preload list names this module).
    _killed_with_parent()
    if not _alive(int(os.environ[_PARENT_ENV])):
        os._exit(1)


def _start_method() -> multiprocessing.context.BaseContext:
    """How workers start: never by forking this process, whose DuckDB threads fork would copy
    mid-flight. A fork server (one clean process that imports the program once and forks each
    worker from itself) where there is one, else a fresh interpreter per worker ("spawn",
    each importing the program again: 1.1-1.6 CPU-seconds for two workers against 0.8)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["__main__", "alertproc.mail.ingest"])
        return context
    return multiprocessing.get_context("spawn")


def parse_later(job: Reading | MailReader, tasks: list) -> Callable[[], list]:
    """Start ``job`` over ``tasks`` and return a function that waits for the results, in order.

    Parsing is the CPU-bound stage (profiled), so big batches go to a pool of worker
    processes started once (see :func:`_start_method`), and the caller can record one batch
    while the workers read the next. Small batches are done here, now, unless the pool runs
    already (a batch of a long run may hold only a few mails not stored yet). A worker that dies
    costs nothing but time: the batch is done here instead. ``job`` is a :class:`Reading`
    (tasks: raw, sha256, fallback date) or a bare :class:`MailReader` (tasks: raw bytes).
    """
    run = job if isinstance(job, Reading) else job.parse
    if (len(tasks) < PARALLEL_FROM and _pool is None) or _pool_failed or not start_workers():
        done = [run(task) for task in tasks]
        return lambda: done
    cores = os.cpu_count() or 1
    try:
        results = _pool.map(run, tasks, chunksize=max(16, len(tasks) // (4 * cores)))
    except BrokenProcessPool:
        return _here_from_now_on(run, tasks)

    def wait() -> list:
        try:
            return list(results)
        except BrokenProcessPool:
            return _here_from_now_on(run, tasks)()
    return wait


def _here_from_now_on(run: Callable, tasks: list) -> Callable[[], list]:
    # Workers could not start or died: work here from now on rather than retrying each batch.
    global _pool, _pool_failed
    log.warning("parser worker processes failed; parsing in this process from now on")
    _pool, _pool_failed = None, True
    done = [run(task) for task in tasks]
    return lambda: done


def parse_all(job: Reading | MailReader, tasks: list) -> list:
    """``job`` over ``tasks`` in order, on every core for large batches (see :func:`parse_later`)."""
    return parse_later(job, tasks)()


@dataclass
class _PendingBatch:
    """A batch handed to the workers: all its mails, the new ones by sha256, and how to wait
    for what the workers read of those."""

    mails: list[RawMail]
    new: dict[str, RawMail]
    results: Callable[[], list]
    stored: dict[str, dict]  # mail of the batch stored before: what filing needs of each


def _read(con: duckdb.DuckDBPyConnection, archive: Archive, batch: list[RawMail], reader: MailReader,
          in_flight: set[str]) -> _PendingBatch:
    unique: dict[str, RawMail] = {}
    for mail in batch:
        unique.setdefault(mail.sha256, mail)
    # Mail stored already is neither parsed nor archived again (a folder fetched again after a
    # UIDVALIDITY change, an mbox imported twice). Mail with the same bytes as one of the batch
    # being recorded is stored by the time this batch is recorded (and writing its file now
    # would race the other worker's write).
    stored = stored_messages(con, list(unique))
    new = {sha: mail for sha, mail in unique.items() if sha not in stored and sha not in in_flight}
    tasks = [(mail.raw, sha, mail.internal_date) for sha, mail in new.items()]
    return _PendingBatch(batch, new, parse_later(Reading(reader, archive), tasks), stored)


def _owns_message_id(row: dict, senders: frozenset[str]) -> bool:
    """Whether ``row`` takes part in the Message-ID dedupe: genuine mail of a configured sender."""
    return bool(row["message_id"]) and row["sender_check"] == GENUINE and row["from_addr"] in senders


def _record(con: duckdb.DuckDBPyConnection, archive: Archive, reading: _PendingBatch, run_id: int | None,
            earlier: dict[str, dict], senders: frozenset[str]) -> tuple[IngestStats, dict[str, dict]]:
    """Wait for a batch's reading, sync its archive files, and commit its rows and events.

    Returns the stats and each mail's outcome by sha256 (kind, parse_status, sender_check:
    what filing decides on) — of the new rows, of the stored ones, and from ``earlier`` (the
    previous batch's) for mail that batch held too.
    """
    stats = IngestStats(seen=len(reading.mails))
    parsed = {sha: (mail, result, path) for (sha, mail), (result, path) in zip(reading.new.items(), reading.results())}
    by_message_id = message_id_owners(con, [p.message["message_id"] for _, p, _ in parsed.values()
                                            if _owns_message_id(p.message, senders)], senders)
    rows: dict[str, dict] = {}
    events: list[dict] = []
    imported_at = now()
    for sha, (mail, result, archive_path) in parsed.items():
        row = dict(result.message)
        owns = _owns_message_id(row, senders)
        first = by_message_id.get(row["message_id"]) if owns else None
        if first is not None and first != sha:
            row.update(parse_status="duplicate", duplicate_of=first,
                       parse_error=f"same Message-ID as {first[:12]}")
            mail_events = []
        else:
            mail_events = result.events
            if owns:
                by_message_id[row["message_id"]] = sha
        row.update(
            sha256=sha, source=mail.source, account=mail.account, folder=mail.folder,
            uidvalidity=mail.uidvalidity, uid=mail.uid, source_ref=mail.ref, size_bytes=len(mail.raw),
            received_at=row["received_at"] or mail.internal_date, imported_at=imported_at, run_id=run_id,
            archive_path=archive_path,
        )
        for event in mail_events:
            event.update(source_sha256=sha, source_ref=row["message_id"] or mail.ref, imported_at=imported_at)
        events.extend(mail_events)
        rows[sha] = row
    stats.known = stats.seen - len(rows)
    if rows:
        crash_point("after_archive_write")
        archive.sync()
        stats.events_new = insert_batch(con, list(rows.values()), events)
        crash_point("after_db_insert")
    for row in rows.values():
        status = row["parse_status"]
        if status == "duplicate":
            stats.duplicates += 1
        else:
            stats.new += 1
            setattr(stats, status, getattr(stats, status) + 1)
    outcomes = {**reading.stored, **{sha: {k: row[k] for k in FILING_FIELDS} for sha, row in rows.items()}}
    for mail in reading.mails:
        if mail.sha256 not in outcomes and mail.sha256 in earlier:
            outcomes[mail.sha256] = earlier[mail.sha256]
    return stats, outcomes


def ingest_batches(con: duckdb.DuckDBPyConnection, archive: Archive, batches: Iterable[list[RawMail]],
                   reader: MailReader, run_id: int | None
                   ) -> Iterator[tuple[list[RawMail], IngestStats, dict[str, dict]]]:
    """Archive, parse and record each batch, in order, yielding it with its stats and each mail's
    outcome by sha256 (see :func:`_record`) once committed: filing needs no query of its own.

    Messages already in the database (same bytes) are skipped; a message whose Message-ID is
    already stored with other bytes is archived and recorded as ``duplicate`` without events.
    Archive files are synced before the database commit, so a row never points at nothing.
    While one batch is synced and committed, the workers already read the next one (the
    next batch is taken from ``batches`` before this one is yielded).
    """
    recording: _PendingBatch | None = None
    outcomes: dict[str, dict] = {}
    for batch in batches:
        reading = _read(con, archive, batch, reader, set(recording.new) if recording else set())
        if recording is not None:
            stats, outcomes = _record(con, archive, recording, run_id, outcomes, reader.senders)
            yield recording.mails, stats, outcomes
        recording = reading
    if recording is not None:
        stats, outcomes = _record(con, archive, recording, run_id, outcomes, reader.senders)
        yield recording.mails, stats, outcomes


def ingest(con: duckdb.DuckDBPyConnection, archive: Archive, mails: Iterable[RawMail], reader: MailReader,
           run_id: int | None = None, batch_size: int = DEFAULT_BATCH,
           progress: Callable[[int], None] | None = None) -> IngestStats:
    """Ingest ``mails`` batch by batch; each batch is committed on its own."""
    total = IngestStats()
    batches = batches_of(mails, batch_size, lambda mail: len(mail.raw))
    for batch, stats, _ in ingest_batches(con, archive, batches, reader, run_id):
        total.add(stats)
        if progress:
            progress(len(batch))
    return total


def reparse(con: duckdb.DuckDBPyConnection, archive: Archive, reader: MailReader, everything: bool = False,
            progress: Callable[[int], None] | None = None, batch_size: int = 1000) -> IngestStats:
    """Parse archived mail again with the current formats, without fetching anything.

    By default only ``unparsed`` and ``ignored`` mail is read again (mail a new format may
    now recognise); ``everything`` re-reads parsed alerts too. A message's e-mail events are
    replaced in the same transaction as its row, so nothing is duplicated;
    ``events_new`` counts the events that did not exist before.
    """
    statuses = ["unparsed", "ignored", "parsed"] if everything else ["unparsed", "ignored"]
    rows = con.execute("select sha256, archive_path, message_id, source_ref from messages "
                       "where list_contains(?, parse_status) order by sha256", [statuses]).fetchall()
    stats = IngestStats()
    count_events = "select count(*) from events"
    before = store.scalar(con, count_events)
    for start in range(0, len(rows), batch_size):
        updates, events = [], []
        for sha, path, message_id, ref in rows[start:start + batch_size]:
            result = reader.parse(archive.read(path))
            updates.append({**result.message, "sha256": sha})
            for event in result.events:
                event.update(source_sha256=sha, source_ref=message_id or ref, imported_at=now())
            events.extend(result.events)
            status = result.message["parse_status"]
            setattr(stats, status, getattr(stats, status) + 1)
        update_table = store.arrow_table(updates, store.MESSAGE_COLUMNS)  # noqa: F841 (read by name in the SQL)
        with store.transaction(con):
            con.execute("update messages set kind = u.kind, format_id = u.format_id, parse_status = u.parse_status, "
                        "parse_error = u.parse_error from update_table u where messages.sha256 = u.sha256")
            con.execute("delete from events where channel = 'email' and source_sha256 in (select sha256 from update_table)")
            store.insert_events(con, events)
        stats.seen += len(updates)
        if progress:
            progress(len(updates))
    stats.events_new = store.scalar(con, count_events) - before
    return stats
