"""The jobs the CLI runs, as library functions: import, detect, report, reparse, run."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from .outputs import evidence
from .audit import inventory
from .storage import lock, store
from .storage.archive import Archive
from .audit.layers import formats_of, rules_of, template_dirs
from .mail.ingest import IngestStats
from .lake import LakeWrite, export_lake
from .reading.parse import ALERT_LIKE_SEARCH, MailReader
from .audit.policy import NO_POLICY, Policy, apply_policy, no_policy, policy_of, without_policy
from .outputs.report import write_report
from .period import Period, choose_period, last_complete_week
from .audit.rules import run_rules
from .config import ImapSettings, NotifySettings, Settings, SmtpSettings
from .outputs.notify import NotifyResult, notify
from .errors import ConfigError, FetchError, SourceError
from .masking import mask
from .outputs.files import protected_paths
from .mail.fetch import CleanupResult, FetchResult, Filing, cleanup, sync
from .mail.mailbox import Wanted
from .mail.imap import ImapMailbox
from .portal.accesslog import LogImport, import_access_log
from .portal.sms import import_sms, read_sms
from .portal.portal_tokens import TokenImport, import_tokens
from .mail.sources import LocalSource, detect_kind

Progress = Callable[[int], None]


@dataclass
class DetectResult:
    """Findings after a detect: total, per rule and severity, rule problems, rules skipped."""

    total: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    by_severity: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lake_findings_added: int | None = None  # detect on a lake: finding versions written to it
    skipped: list[str] = field(default_factory=list)  # rules that need a policy, when there is none
    notice: str | None = None  # why they were skipped


@dataclass
class RunSummary:
    """What ``alertproc run`` did."""

    run_id: int
    imported: IngestStats
    detect: DetectResult
    report: Path | None
    fetched: list[FetchResult] = field(default_factory=list)  # one per mailbox that was synced
    failed: dict[str, str] = field(default_factory=dict)  # mailbox label -> why it could not be synced
    notified: NotifyResult | None = None

    def as_dict(self) -> dict:
        """A JSON-ready summary for scripts."""
        return {"run_id": self.run_id, "imported": asdict(self.imported), "findings": asdict(self.detect),
                "report": str(self.report) if self.report else None,
                "imap": [result.as_dict() for result in self.fetched], "failed_mailboxes": self.failed,
                "notified": asdict(self.notified) if self.notified else None}


@contextmanager
def writing(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The database opened for writing, under the run lock; what it creates meanwhile (the
    WAL, archive files) is readable by the owner only."""
    with store.private_files(), lock.exclusive(settings.db):
        con = store.connect(settings.db)
        try:
            yield con
        finally:
            con.close()


@contextmanager
def reading_if_there(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """The database opened read-only, or None when there is none yet (a dry run needs no lock,
    and before a first run has nothing stored to compare with)."""
    con = store.connect(settings.db, read_only=True) if Path(settings.db).exists() else None
    try:
        yield con
    finally:
        if con is not None:
            con.close()


@contextmanager
def tracked(con: duckdb.DuckDBPyConnection, command: str, source: str | None) -> Iterator[int]:
    """Record a row in ``runs``: ``running`` now, ``ok`` or ``failed`` (with the error) at the end."""
    run_id = store.scalar(con, "select nextval('run_ids')")
    con.execute("insert into runs (run_id, command, source, started_at, status) values (?, ?, ?, ?, 'running')",
                [run_id, command, source, store.now()])
    try:
        yield run_id
    except BaseException as exc:
        con.execute("update runs set status = 'failed', finished_at = ?, error = ? where run_id = ?",
                    [store.now(), mask(f"{type(exc).__name__}: {exc}")[:500], run_id])
        raise
    con.execute("update runs set status = 'ok', finished_at = ? where run_id = ?", [store.now(), run_id])


def record_stats(con: duckdb.DuckDBPyConnection, run_id: int, stats: IngestStats) -> None:
    """Store an import's counts on its ``runs`` row."""
    con.execute(
        "update runs set messages_seen = ?, messages_new = ?, messages_known = ?, duplicates = ?, parsed = ?, "
        "unparsed = ?, suspicious = ?, ignored = ?, events_new = ?, forwarded = ? where run_id = ?",
        [stats.seen, stats.new, stats.known, stats.duplicates, stats.parsed, stats.unparsed, stats.suspicious, stats.not_alerts,
         stats.events_new, stats.forwarded, run_id])


def reader_of(settings: Settings) -> MailReader:
    """How mail is read under ``settings``: the formats of ``<rules>/formats`` and the senders."""
    formats = formats_of(settings)
    reader = MailReader(formats, settings.sender_set, settings.require_auth_results,
                        frozenset(i.lower() for i in settings.trusted_authserv_ids), settings.subject_prefixes,
                        trusted_forwarders=settings.forwarder_set, max_bytes=settings.max_mail_mb * 2**20)
    reader.check()
    return reader


def import_mail(con: duckdb.DuckDBPyConnection, settings: Settings, path: Path, kind: str | None, run_id: int,
                progress: Progress | None = None, reader: MailReader | None = None) -> IngestStats:
    """Import a local ``.eml`` folder, Maildir or mbox into the archive and database."""
    return sync_local(con, settings, path, kind, run_id, progress=progress, reader=reader).imported


def sync_local(con: duckdb.DuckDBPyConnection | None, settings: Settings, path: Path, kind: str | None,
               run_id: int | None, *, filing: Filing | None = None, dry_run: bool = False,
               progress: Progress | None = None, reader: MailReader | None = None) -> FetchResult:
    """Import local mail through the same path as a fetch; with ``filing``, move a Maildir's
    alerts into its folders as a fetch does on IMAP (``dry_run``: only say what would move).
    ``reader``: the formats already loaded (a run loads them once), else they are loaded now."""
    reader = reader or reader_of(settings)
    into = (filing.filed, filing.suspicious) if filing else ()
    source = LocalSource(path, kind or detect_kind(path), filed_into=tuple(f for f in into if f))
    if filing is not None and (refused := source.filing_refused()):
        raise SourceError(f"{path}: cannot file mail away: {refused}; only a Maildir can be filed")
    result = sync(con, source, Archive(Path(settings.archive)), reader, wanted(reader), filing=filing,
                  run_id=run_id, dry_run=dry_run, progress=progress)
    if con is not None and run_id is not None:
        record_stats(con, run_id, result.imported)
    return result


def wanted(reader: MailReader, since: date | None = None, until: date | None = None) -> Wanted:
    """What a sync searches for: the senders (and trusted forwarders) and subjects of every loaded format."""
    return Wanted(tuple(sorted(reader.senders | reader.trusted_forwarders)),
                  tuple(reader.formats.subject_searches(ALERT_LIKE_SEARCH)),
                  since, until)


def import_sms_file(con: duckdb.DuckDBPyConnection, settings: Settings, path: Path, run_id: int,
                    progress: Progress | None = None) -> IngestStats:
    """Import an SMS export (XML or CSV) through the ``channel: sms`` formats."""
    stats = import_sms(con, read_sms(path), reader_of(settings).formats, settings.sms_senders, run_id, progress)
    record_stats(con, run_id, stats)
    return stats


def import_access_log_file(con: duckdb.DuckDBPyConnection, settings: Settings, path: Path, gstin: str | None,
                           run_id: int, progress: Progress | None = None) -> LogImport:
    """Import a portal access log (CSV or XLSX) as ``access_attempt`` events."""
    result = import_access_log(con, path, gstin, progress)
    con.execute("update runs set messages_seen = ?, events_new = ? where run_id = ?",
                [result.rows, result.events_new, run_id])
    return result


def import_tokens_file(con: duckdb.DuckDBPyConnection, path: Path, gstin: str | None, taken_at: datetime | None,
                       run_id: int) -> TokenImport:
    """Import an Active Tokens list (CSV or XLSX) as ``active_token`` events; ``taken_at`` in IST."""
    result = import_tokens(con, path, gstin, taken_at)
    con.execute("update runs set messages_seen = ?, events_new = ? where run_id = ?",
                [result.rows, result.events_new, run_id])
    return result


def detect(con: duckdb.DuckDBPyConnection, settings: Settings, policy: Policy | None | bool = True) -> DetectResult:
    """Load the policy and recompute findings from every rule of every layer.

    Without a policy file the rules that compare with approvals (``-- needs: policy``) are
    skipped and listed in ``skipped``; the others run with the default thresholds.
    ``policy`` True means: read it now (callers that validated it up front pass it).
    """
    if policy is True:
        policy = policy_of(settings)
    apply_policy(con, policy or no_policy())
    rules, problems = rules_of(settings)
    skipped = [r.id for r in rules if r.needs_policy] if policy is None else []
    total, run_problems = run_rules(con, [r for r in rules if r.id not in skipped])
    inventory.refresh(con, last_complete_week().since)
    result = summarize(con, total, problems + run_problems)
    result.skipped = skipped
    result.notice = NO_POLICY.format(path=settings.policy) if policy is None else None
    return result


def summarize(con: duckdb.DuckDBPyConnection, total: int, problems: list[str]) -> DetectResult:
    """The counts of ``findings`` per rule and severity."""
    result = DetectResult(total=total, problems=problems)
    result.by_rule = dict(con.execute("select rule_id, count(*) from findings group by 1 order by 1").fetchall())
    result.by_severity = dict(con.execute("select severity, count(*) from findings group by 1").fetchall())
    return result


def export_lake_job(settings: Settings, lake: str | Path) -> LakeWrite:
    """``alertproc export lake``: add what the lake lacks, under the database's and the lake's locks."""
    with writing(settings) as con:
        return export_lake(con, lake)


def report(con: duckdb.DuckDBPyConnection, settings: Settings, period: Period, out: Path | None = None) -> Path:
    """Write the HTML report for ``period``."""
    rules, _ = rules_of(settings)
    notes = {r.id: {"title": r.title, "description": r.description} for r in rules}
    notices = [NO_POLICY.format(path=settings.policy).capitalize()] if without_policy(settings) else []
    return write_report(con, period, template_dirs(settings), Path(settings.archive), out=out,
                        out_dir=Path(settings.report_dir), rule_notes=notes, notices=notices,
                        protected=protected_paths(settings.db, settings.archive))


def reparse(con: duckdb.DuckDBPyConnection, settings: Settings, everything: bool = False,
            progress: Progress | None = None, batch_size: int = 1000) -> IngestStats:
    """Parse archived mail again with the current formats, without fetching anything.

    By default only ``unparsed`` and ``ignored`` mail is read again (mail a new format may
    now recognise); ``everything`` re-reads parsed alerts too. A message's e-mail events are
    replaced in the same transaction as its row, so nothing is duplicated;
    ``events_new`` counts the events that did not exist before.
    """
    statuses = ["unparsed", "ignored", "parsed"] if everything else ["unparsed", "ignored"]
    rows = con.execute("select sha256, archive_path, message_id, source_ref from messages "
                       "where list_contains(?, parse_status) order by sha256", [statuses]).fetchall()
    archive, reader = Archive(Path(settings.archive)), reader_of(settings)
    stats = IngestStats()
    count_events = "select count(*) from events"
    before = store.scalar(con, count_events)
    for start in range(0, len(rows), batch_size):
        updates, events = [], []
        for sha, path, message_id, ref in rows[start:start + batch_size]:
            result = reader.parse(archive.read(path))
            updates.append({**result.message, "sha256": sha})
            for event in result.events:
                event.update(source_sha256=sha, source_ref=message_id or ref, imported_at=store.now())
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


def fetch_imap(con: duckdb.DuckDBPyConnection | None, settings: Settings, imap: ImapSettings, run_id: int | None, *,
               dry_run: bool = False, file_away: bool = True, since: date | None = None, until: date | None = None,
               progress: Progress | None = None, environ: dict[str, str] | None = None,
               reader: MailReader | None = None) -> FetchResult:
    """Fetch, archive, load and file away new alerts from the configured IMAP folder
    (``reader``: the formats already loaded, else they are loaded now)."""
    reader = reader or reader_of(settings)
    filing = Filing(imap.filed_folder, imap.suspicious_folder, imap.mark_seen) if file_away else None
    with ImapMailbox(imap, dict(os.environ) if environ is None else environ) as mailbox:
        result = sync(con, mailbox, Archive(Path(settings.archive)), reader, wanted(reader, since, until),
                      filing=filing, batch_size=imap.batch_size, run_id=run_id, dry_run=dry_run, progress=progress)
    if con is not None and run_id is not None:
        record_stats(con, run_id, result.imported)
    return result


def fetch_job(settings: Settings, imap: ImapSettings, *, dry_run: bool = False, **options) -> FetchResult:
    """``alertproc fetch``: under the run lock, or read-only for a dry run."""
    if dry_run:
        with reading_if_there(settings) as con:
            return fetch_imap(con, settings, imap, None, dry_run=True, **options)
    with writing(settings) as con, tracked(con, "fetch", imap.account) as run_id:
        return fetch_imap(con, settings, imap, run_id, **options)


def file_maildir_job(settings: Settings, path: Path, *, dry_run: bool = False,
                     progress: Progress | None = None) -> FetchResult:
    """``alertproc import maildir --file-away``: import and move alerts to the Maildir's folders."""
    if dry_run:
        with reading_if_there(settings) as con:
            return sync_local(con, settings, path, "maildir", None, filing=Filing(), dry_run=True)
    with writing(settings) as con, tracked(con, "import maildir --file-away", str(path)) as run_id:
        return sync_local(con, settings, path, "maildir", run_id, filing=Filing(), progress=progress)


def evidence_job(settings: Settings, out: Path, *, week: str | None = None, since: str | None = None,
                 until: str | None = None, finding: str | None = None) -> evidence.Pack:
    """``alertproc evidence``: the pack of a period's findings or of one finding, read-only."""
    period = None if finding and not (week or since or until) else choose_period(week, since, until)
    con = store.connect(settings.db, read_only=True)
    try:
        return evidence.build(con, Archive(Path(settings.archive)), out,
                              lambda p, path: report(con, settings, p, path), period=period, finding_id=finding,
                              protected=protected_paths(settings.db, settings.archive))
    finally:
        con.close()


def cleanup_job(settings: Settings, imap: ImapSettings, older_than: date, apply: bool = False,
                progress: Progress | None = None, environ: dict[str, str] | None = None) -> CleanupResult:
    """``alertproc cleanup``: delete old filed alerts whose archived copy verifies."""
    with writing(settings) as con, tracked(con, "cleanup" if apply else "cleanup --dry-run", imap.account):
        with ImapMailbox(imap, dict(os.environ) if environ is None else environ) as mailbox:
            return cleanup(con, mailbox, Archive(Path(settings.archive)), older_than, settings.sender_set, apply,
                           progress)


def run(settings: Settings, source: Path | None = None, kind: str | None = None,
        accounts: tuple[ImapSettings, ...] = (), period: Period | None = None, progress: Progress | None = None,
        environ: dict[str, str] | None = None, sms: tuple[Path, ...] = (), access_logs: tuple[Path, ...] = (),
        notify_cfg: NotifySettings | None = None, smtp: SmtpSettings | None = None,
        file_away: bool = True, tokens: tuple[Path, ...] = ()) -> RunSummary:
    """The scheduled job: import local files or sync every IMAP account (plus any SMS exports,
    access logs and active-token lists), then detect and report.

    The formats, rules and policy are read and checked first: a mistake in any of them stops
    the run before it fetches or changes anything. An account that cannot be synced (server
    down, login refused) is recorded in ``failed`` and the others go on; the run's row then
    has status ``partial``.
    """
    reader = reader_of(settings)  # read once, for every mailbox and SMS export of the run
    rules_of(settings)
    policy = policy_of(settings)
    failed: dict[str, str] = {}
    fetched: list[FetchResult] = []
    with writing(settings) as con:
        label = str(source) if source else ", ".join(a.label for a in accounts)
        with tracked(con, "run", label) as run_id:
            if source is not None:
                stats = import_mail(con, settings, source, kind, run_id, progress, reader)
            else:
                stats = IngestStats()
                for account in accounts:
                    try:
                        result = fetch_imap(con, settings, account, run_id, progress=progress, environ=environ,
                                            file_away=file_away, reader=reader)
                    except (FetchError, ConfigError) as exc:
                        failed[account.label] = mask(str(exc))
                        continue
                    fetched.append(result)
                    stats.add(result.imported)
            for path in sms:
                stats.add(import_sms(con, read_sms(path), reader.formats, settings.sms_senders, run_id))
            for path in access_logs:
                stats.events_new += import_access_log(con, path).events_new
            for path in tokens:
                stats.events_new += import_tokens(con, path).events_new
            record_stats(con, run_id, stats)
            found = detect(con, settings, policy)
            con.execute("update runs set findings = ? where run_id = ?", [found.total, run_id])
            told = notify(con, notify_cfg, smtp, dict(os.environ) if environ is None else environ) if notify_cfg else None
            out = report(con, settings, period or choose_period(None, None, None))
        if failed:
            con.execute("update runs set status = 'partial', error = ? where run_id = ?",
                        ["; ".join(f"{name}: {why}" for name, why in failed.items())[:500], run_id])
    return RunSummary(run_id, stats, found, out, fetched, failed, told)
