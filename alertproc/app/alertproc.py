"""The application object: the one door to the work, for the CLI, ``watch`` and Python.

    import alertproc
    with alertproc.open("alertproc.duckdb") as ap:
        ap.import_mail("sample_mailbox/mail")
        ap.detect()
        ap.sql("select * from findings").df()

Every ``alertproc`` command is one method here (``tests/app/test_one_door.py`` holds the two
lists together), so both faces behave alike: reading commands open the database read-only,
writing ones take the run lock for their own duration (a notebook never blocks a scheduled
run for longer than a call), and an account that fails never stops the others. The database
is opened in two places only, :meth:`Alertproc._reading` and :meth:`Alertproc._writing`.
docs/api.md has a longer example.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import duckdb

from ..audit import triage
from ..audit.canned import CannedQuery, load_queries, run as run_canned
from ..audit.detection import DetectResult, detect
from ..audit.layers import formats_of, rules_of, sub_dirs, template_dirs
from ..audit.policy import Client, Policy, policy_of, unchecked
from ..audit.rules import Rule
from ..audit.rulestest import ScenarioResult, run_rule_tests
from ..config import Config, ImapSettings, Settings, load_config
from ..errors import AlertprocError, ConfigError, SourceError
from ..lake import LakeWrite, export_lake
from ..lake.engines import detect_lake
from ..lake.portable import ENGINES
from ..mail.cleanup import CleanupResult, cleanup, retention_cutoff
from ..mail.fetch import FetchResult, Filing, sync, wanted
from ..mail.heartbeat import listening
from ..mail.imap import ImapMailbox
from ..mail.ingest import reparse
from ..mail.mailbox import Mailbox
from ..mail.oauth import TokenStatus, login as oauth_login, token_status
from ..mail.sources import LocalSource, detect_kind
from ..outputs import evidence as packs
from ..outputs.export import export as export_rows, tabulate, xlsx_sheet
from ..outputs.files import check_data_file, check_target, code_and_config, protected_paths, replacing
from ..outputs.mailer import send_report
from ..outputs.notify import NotifyResult, notify
from ..outputs.report import client_folder, write_report
from ..outputs.status import operator_status
from ..period import Period, choose_period, parse_day
from ..reading.explain import Explanation, PatternWarning, check_formats, explain_mail
from ..reading.formats import Format
from ..reading.parse import MailReader
from ..storage import published, store
from ..storage.scoped import ClientView, client_copy
from ..storage.archive import Archive
from ..storage.runs import IngestStats, record_findings, record_partial, record_stats, tracked, writing
from .accounts import ACCOUNT_ERRORS, PerAccount, each_account
from .desk import Desk
from .policies import Policies
from .doctor import Check, diagnose
from .inputs import INPUTS, input_of
from .starter import NEXT_STEPS, write_starter_files
from .watch import Watcher

Progress = Callable[[int], None]


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
    client_reports: dict[str, Path] = field(default_factory=dict)  # client name -> its report (policy clients:)

    def as_dict(self) -> dict:
        """A JSON-ready summary for scripts."""
        return {"run_id": self.run_id, "imported": asdict(self.imported), "findings": asdict(self.detect),
                "report": str(self.report) if self.report else None,
                "client_reports": {name: str(path) for name, path in self.client_reports.items()},
                "imap": [result.as_dict() for result in self.fetched], "failed_mailboxes": self.failed,
                "notified": asdict(self.notified) if self.notified else None}


@dataclass
class Cycle:
    """What one wake-up of ``watch`` did: each due account's fetch, then detect and notify."""

    fetched: PerAccount[FetchResult]
    found: DetectResult | None = None
    told: NotifyResult | None = None


log = logging.getLogger(__name__)

def _days(since: str | date | None, until: str | date | None) -> dict[str, date | None]:
    """A finding list's ``since`` and ``until`` as days (``31-12-2026`` or a date)."""
    return {"since": parse_day(since, "since") if since else None, "until": parse_day(until, "until") if until else None}


# The command a triage action comes from, for whoever waits for the lock.
ACTION_WORDS = {"acknowledged": "ack", "suppressed": "suppress", "reopened": "reopen"}


class Alertproc(Desk, Policies):
    """One database (and its archive, rules, policy and mailboxes) under one config. Use :func:`open`.
    What the web app needs beyond the CLI's commands (users, a finding's page, the overview) is
    in :class:`alertproc.app.desk.Desk`; approvals, the effective and the drafted policy in
    :class:`alertproc.app.policies.Policies`."""

    # The choices a face offers for the options of its commands.
    TRIAGE_STATES = triage.STATUSES
    ENGINES = ENGINES
    NEXT_STEPS = NEXT_STEPS  # what to do after `init`

    def __init__(self, config: Config, environ: dict[str, str] | None = None) -> None:
        self.config = config
        self.settings: Settings = config.settings
        self.environ = dict(os.environ) if environ is None else environ  # for secrets named by *_env
        self._reader: duckdb.DuckDBPyConnection | None = None
        self._reader_sandboxed = True
        self._reader_file = 0  # the inode of the published copy the reader has open
        self._mail_reader: MailReader | None = None

    # --- the two places the database is opened -------------------------------------------

    @contextmanager
    def _writing(self, command: str | None = None, source: str | None = None, create: bool = False,
                 doing: str = "") -> Iterator[tuple]:
        """The database for writing, under the run lock, with a ``runs`` row for ``command``
        (none when ``command`` is None; ``doing`` then names the work for whoever waits for the
        lock): yields (connection, run id). Readers are not in its way: it writes a working
        file and publishes it over the database at the end (storage/published.py). Only what brings data in
        (``create``: run, import, fetch, watch) may create it: a detect in the wrong folder must
        not report "0 findings" from an empty database it just made."""
        if not create and not published.working_file(self.settings.db).exists():  # a first job that died unpublished
            self._must_exist()
        with writing(self.settings.db, self.settings.lock_wait, command or doing) as con:
            if command is None:
                yield con, None
                return
            with tracked(con, command, source) as run_id:
                yield con, run_id

    def _reading(self, sandboxed: bool = True, missing_ok: bool = False) -> duckdb.DuckDBPyConnection | None:
        """The read connection, opened at the first read and kept: read-only and, unless a
        command allows files, in the sandbox of `alertproc sql`. ``missing_ok``: None when
        there is no database yet (a dry run before the first run)."""
        if missing_ok and not Path(self.settings.db).exists():
            return None
        self._must_exist()
        published_now = Path(self.settings.db).stat().st_ino
        if self._reader is not None and (self._reader_sandboxed != sandboxed or self._reader_file != published_now):
            self._close_reader()  # a writer published a newer copy since: read that one
        if self._reader is None:
            self._reader = store.connect(self.settings.db, read_only=True, sandboxed=sandboxed)
            self._reader_sandboxed = sandboxed
            self._reader_file = published_now
        return self._reader

    def _must_exist(self) -> None:
        db = Path(self.settings.db)
        if not db.exists():
            raise ConfigError(f"no alertproc database at {db.resolve()}: point at yours with --db PATH, $ALERTPROC_DB "
                              "or db = \"...\" in the config file; or create it here with `alertproc run` (or "
                              "`alertproc import`)")

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def close(self) -> None:
        """Close the read connection (writing calls close their own)."""
        self._close_reader()

    def __enter__(self) -> "Alertproc":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what the settings make of the shared parts -----------------------------------------

    def reader(self) -> MailReader:
        """How mail is read: the formats of every layer, the senders, the trust settings (loaded once)."""
        if self._mail_reader is None:
            settings = self.settings
            reader = MailReader(formats_of(settings), settings.sender_set, settings.require_auth_results,
                                frozenset(i.lower() for i in settings.trusted_authserv_ids), settings.subject_prefixes,
                                trusted_forwarders=settings.forwarder_set, max_bytes=settings.max_mail_mb * 2**20)
            reader.check()
            self._mail_reader = reader
        return self._mail_reader

    def check(self) -> Policy | None:
        """Read and check the formats, the rules and the policy now (a run does, before it changes
        anything); the policy read (None without a policy file)."""
        self.reader()
        rules_of(self.settings)
        return policy_of(self.settings)

    def _archive(self) -> Archive:
        return Archive(Path(self.settings.archive))

    def _protected(self) -> list[Path]:
        return protected_paths(self.settings.db, self.settings.archive)

    def _sync(self, con: duckdb.DuckDBPyConnection | None, mailbox: Mailbox, filing: Filing | None,
              run_id: int | None, *, dry_run: bool = False, progress: Progress | None = None,
              since: date | None = None, until: date | None = None, batch_size: int = 1000) -> FetchResult:
        """Any mailbox through the one sync path; its counts go on the run's row."""
        reader = self.reader()
        result = sync(con, mailbox, self._archive(), reader, wanted(reader, since, until), filing=filing,
                      batch_size=batch_size, run_id=run_id, dry_run=dry_run, progress=progress)
        if con is not None and run_id is not None:
            record_stats(con, run_id, result.imported)
        return result

    def _fetch_account(self, con: duckdb.DuckDBPyConnection | None, imap: ImapSettings, run_id: int | None, *,
                       file_away: bool = True, **options) -> FetchResult:
        filing = Filing(imap.filed_folder, imap.suspicious_folder, imap.mark_seen) if file_away else None
        log.info("fetching %s %s%s", imap.label, imap.folder, "" if file_away else " (filing nothing away)")
        with ImapMailbox(imap, self.environ) as mailbox:
            return self._sync(con, mailbox, filing, run_id, batch_size=imap.batch_size, **options)

    # --- alertproc run, import, reparse ------------------------------------------------------

    def run(self, source: str | Path | None = None, kind: str | None = None, week: str | None = None,
            inputs: dict[str, list] | None = None, file_away: bool = True, account: str | None = None,
            progress: Progress | None = None, period: Period | None = None) -> RunSummary:
        """The scheduled job: import ``source`` (local mail) or sync every IMAP account (or
        ``account``), plus ``inputs`` (``{"sms": [path], "access-log": [...], "tokens": [...]}``),
        then detect, notify ([notify] of the config) and write the report of ``week``.

        The formats, rules and policy are read and checked first: a mistake in any of them stops
        the run before it fetches or changes anything. An account that cannot be synced is
        recorded in ``failed`` and the others go on; the run's row then has status ``partial``.
        """
        period = period or choose_period(week, None, None)
        accounts = () if source else self.config.imap_accounts(account)
        extra = {kind_: [Path(p) for p in paths] for kind_, paths in (inputs or {}).items() if paths}
        for kind_ in extra:
            input_of(kind_)
        policy = self.check()
        log.info("formats, rules and policy checked; the report will cover %s", period.label)
        label = str(source) if source else ", ".join(a.label for a in accounts)
        with self._writing(create=True, doing="run") as (con, _):
            with tracked(con, "run", label) as run_id:
                if source is not None:
                    source = Path(source)
                    log.info("importing %s (%s)", source, kind or detect_kind(source))
                    stats = input_of(kind or detect_kind(source)).read(self, con, source, run_id, progress)
                    fetched = PerAccount()
                else:
                    fetched = each_account(accounts, lambda imap: self._fetch_account(
                        con, imap, run_id, progress=progress, file_away=file_away))
                    stats = IngestStats()
                    for result in fetched.results:
                        stats.add(result.imported)
                for kind_, paths in extra.items():
                    for path in paths:
                        log.info("importing %s (%s)", path, kind_)
                        stats.add(INPUTS[kind_].counts(INPUTS[kind_].read(self, con, path, run_id, None)))
                record_stats(con, run_id, stats)
                log.info("imported: %d seen, %d new, %d new events; detecting", stats.seen, stats.new, stats.events_new)
                found = detect(con, self.settings, policy)
                record_findings(con, run_id, found.total)
                log.info("%d findings; notifying and writing the report", found.total)
                told = self._notify(con)
                out = self._write_report(con, period, policy=policy)
                log.info("report written: %s", out)
                by_client = self._client_reports(con, period, policy)
            if fetched.failed:
                record_partial(con, run_id, fetched.reasons())
        return RunSummary(run_id, stats, found, out, fetched.results, fetched.reasons(), told, by_client)

    def import_file(self, kind: str, path: str | Path, progress: Progress | None = None, **options) -> object:
        """Import one local file or folder of a registered kind (:data:`alertproc.app.inputs.INPUTS`):
        ``eml``, ``maildir``, ``mbox``, ``sms``, ``access-log`` (``gstin=``), ``tokens`` (``gstin=``,
        ``taken_at=``). Importing the same file again adds nothing."""
        chosen = input_of(kind)
        unknown = set(options) - set(chosen.options)
        if unknown:
            raise ConfigError(f"import {kind} takes no {', '.join(sorted(unknown))}")
        with self._writing(f"import {kind}", str(path), create=True) as (con, run_id):
            return chosen.read(self, con, Path(path), run_id, progress, **options)

    def import_mail(self, path: str | Path, kind: str | None = None, progress: Progress | None = None) -> IngestStats:
        """Import a folder of .eml files, a Maildir or an mbox (``kind`` guessed when None)."""
        return self.import_file(kind or detect_kind(Path(path)), path, progress)

    def import_sms(self, path: str | Path, progress: Progress | None = None) -> IngestStats:
        """Import an SMS export (SMS Backup & Restore XML, or CSV/XLSX)."""
        return self.import_file("sms", path, progress)

    def import_access_log(self, path: str | Path, gstin: str | None = None, progress: Progress | None = None):
        """Import a portal access log (CSV or XLSX); ``gstin`` when the file has no GSTIN column."""
        return self.import_file("access-log", path, progress, gstin=gstin)

    def import_tokens(self, path: str | Path, gstin: str | None = None, taken_at: datetime | None = None):
        """Import an Active Tokens list (Manage API Access) as a snapshot taken at ``taken_at``
        (naive = IST; default: the file's modification time)."""
        return self.import_file("tokens", path, gstin=gstin, taken_at=taken_at)

    def file_maildir(self, path: str | Path, dry_run: bool = False, progress: Progress | None = None) -> FetchResult:
        """``alertproc import maildir --file-away``: import, and move the alerts into the Maildir's
        folders as a fetch does on IMAP (``dry_run``: only say what would move)."""
        filing = Filing()
        source = LocalSource(Path(path), "maildir", filed_into=(filing.filed, filing.suspicious))
        if refused := source.filing_refused():
            raise SourceError(f"{path}: cannot file mail away: {refused}; only a Maildir can be filed")
        if dry_run:
            return self._sync(self._reading(sandboxed=False, missing_ok=True), source, filing, None, dry_run=True)
        with self._writing("import maildir --file-away", str(path), create=True) as (con, run_id):
            return self._sync(con, source, filing, run_id, progress=progress)

    def reparse(self, everything: bool = False, progress: Progress | None = None) -> IngestStats:
        """Parse archived mail again with the current formats (``everything``: parsed alerts too)."""
        with self._writing("reparse", None) as (con, run_id):
            stats = reparse(con, self._archive(), self.reader(), everything, progress)
            record_stats(con, run_id, stats)
        return stats

    # --- mailboxes: fetch, cleanup, watch, auth ------------------------------------------------

    def fetch(self, dry_run: bool = False, file_away: bool = True, since: date | None = None,
              until: date | None = None, account: str | None = None,
              progress: Progress | None = None) -> PerAccount[FetchResult]:
        """Fetch new alerts from every ``[imap]`` / ``[[imap]]`` account (or the one named
        ``account``), each under the run lock (a dry run reads only): results and failures by account."""
        def one(imap: ImapSettings) -> FetchResult:
            options = dict(file_away=file_away, since=since, until=until, progress=progress)
            if dry_run:
                return self._fetch_account(self._reading(sandboxed=False, missing_ok=True), imap, None,
                                           dry_run=True, **options)
            with self._writing("fetch", imap.account, create=True) as (con, run_id):
                return self._fetch_account(con, imap, run_id, **options)
        return each_account(self.config.imap_accounts(account), one)

    def cleanup(self, older_than: str | date, apply: bool = False, account: str | None = None,
                progress: Progress | None = None) -> PerAccount[CleanupResult]:
        """Delete filed alerts older than ``older_than`` (``90d``, ``12w``, a date) whose archived
        copy verifies; without ``apply`` only say what would go."""
        cutoff = older_than if isinstance(older_than, date) else retention_cutoff(older_than, date.today())

        def one(imap: ImapSettings) -> CleanupResult:
            with self._writing("cleanup" if apply else "cleanup --dry-run", imap.account) as (con, _):
                with ImapMailbox(imap, self.environ) as mailbox:
                    return cleanup(con, mailbox, self._archive(), cutoff, self.settings.sender_set, apply, progress)
        return each_account(self.config.imap_accounts(account), one)

    def watch(self, account: str | None = None) -> int:
        """Stay connected and process alerts as they arrive, until SIGTERM/SIGINT; the exit code."""
        return Watcher(self, self.config.imap_accounts(account)).run()

    def cycle(self, accounts: tuple[ImapSettings, ...], detect_anyway: bool = False,
              progress: Progress | None = None,
              after: Callable[[ImapSettings, FetchResult | None, Exception | None], None] | None = None) -> Cycle:
        """One wake-up of ``watch``: fetch the due ``accounts`` (each with a ``runs`` row of its
        own; ``after(account, result, error)`` as soon as each is done), then detect and notify
        if anything was new (or ``detect_anyway``)."""
        def one(imap: ImapSettings) -> FetchResult:
            try:
                with tracked(con, "watch", imap.account) as run_id:
                    result = self._fetch_account(con, imap, run_id, progress=progress)
            except ACCOUNT_ERRORS as exc:
                if after:
                    after(imap, None, exc)
                raise
            if after:
                after(imap, result, None)
            return result

        with self._writing(create=True, doing="watch") as (con, _):
            outcome = Cycle(each_account(accounts, one))
            if detect_anyway or any(r.imported.new for r in outcome.fetched.results):
                outcome.found = detect(con, self.settings)
                outcome.told = self._notify(con)
        return outcome

    def auth_login(self, account: str | None = None, say: Callable[[str], None] = print) -> str:
        """Log in once to the OAuth2 account (the only one, or ``account``); ``say`` shows the user what to do."""
        accounts = [a for a in self.config.imap_accounts(account) if a.oauth2_provider]
        if not accounts:
            raise ConfigError("no account with oauth2_provider in the config (password and token-command "
                              "accounts need no login)")
        if len(accounts) > 1:
            raise ConfigError(f"several OAuth2 accounts: choose one with --account "
                              f"({', '.join(a.label for a in accounts)})")
        return oauth_login(accounts[0], self.environ, say)

    def auth_status(self, account: str | None = None) -> dict[str, TokenStatus | None]:
        """Each account's OAuth2 token (None: a password account), by label."""
        return {cfg.label: token_status(cfg, self.environ) for cfg in self.config.imap_accounts(account)}

    # --- detect, findings, triage --------------------------------------------------------------

    def detect(self, policy: str | Path | None = None, lake: str | Path | None = None, engine: str = "duckdb",
               spark_master: str | None = None) -> DetectResult:
        """Recompute the findings (with ``policy`` instead of the configured policy file); with
        ``lake``, over that Parquet lake on ``engine`` (duckdb or spark), adding to the lake."""
        settings = replace(self.settings, policy=str(policy)) if policy else self.settings
        if lake is None and (engine != "duckdb" or spark_master):
            raise ConfigError("--engine spark and --spark-master run the rules on a lake: add --lake DIR "
                              "(write one with `alertproc export lake --out DIR`)")
        if lake is not None:
            return detect_lake(settings, str(lake), engine, spark_master)
        policy = policy_of(settings)  # a mistake in the policy is named before a missing database
        with self._writing("detect", None) as (con, _):
            return detect(con, settings, policy)

    def findings(self, status: str = "open", rule: str | None = None, *, severity: str | None = None,
                 gstin: str | None = None, asp: str | None = None, since: str | date | None = None,
                 until: str | date | None = None, client: str | None = None) -> list[dict]:
        """Findings in a triage state (``open``, ``acknowledged``, ``suppressed``, ``all``), most
        severe and newest first; narrowed to a rule, severity, GSTIN, ASP (part of its name),
        IST days (``31-12-2026`` or a date) and a client's GSTINs."""
        con = self._reading()
        scoped = client_copy(con, self._client(policy_of(self.settings), client).gstins) if client else None
        try:
            return triage.listed(scoped or con, status, rule, severity=severity, gstin=gstin, asp=asp,
                                 **_days(since, until))
        finally:
            if scoped is not None:
                scoped.close()

    def findings_page(self, limit: int, status: str = "open", rule: str | None = None, *,
                      severity: str | None = None, gstin: str | None = None, asp: str | None = None,
                      since: str | date | None = None, until: str | date | None = None) -> tuple[list[dict], int]:
        """The first ``limit`` of :meth:`findings`, and how many match in all."""
        return triage.page(self._reading(), limit, status, rule, severity=severity, gstin=gstin, asp=asp,
                           **_days(since, until))

    def findings_json(self, status: str = "open", rule: str | None = None, *, severity: str | None = None,
                      gstin: str | None = None, asp: str | None = None, since: str | date | None = None,
                      until: str | date | None = None) -> str:
        """:meth:`findings` as a JSON array of objects, each also with ``status`` (the triage
        state): what `/api/findings` answers, made by DuckDB."""
        return triage.listed_json(self._reading(), status, rule, severity=severity, gstin=gstin, asp=asp,
                                  **_days(since, until))

    def triage(self, finding_id: str, action: str, note: str | None = None, by: str | None = None,
               until: date | None = None) -> dict:
        """Acknowledge (``"acknowledged"``), suppress (``"suppressed"``, optionally ``until`` a
        day) or reopen (``"reopened"``) a finding; returns the history entry."""
        with self._writing(doing=f"findings {ACTION_WORDS.get(action, action)}") as (con, _):
            return triage.record(con, finding_id, action, note, by, until)

    def rules(self) -> tuple[list[Rule], list[str]]:
        """Every rule of every layer, and the problems of the rule files that did not load."""
        return rules_of(self.settings)

    def test_rules(self, tests_dir: str | Path | None = None) -> tuple[list[ScenarioResult], list[Rule], list[str]]:
        """Run every rule's fixture scenarios: the results, the rules, the rule files' problems."""
        found, problems = rules_of(self.settings)
        folders = [Path(tests_dir)] if tests_dir else sub_dirs(self.settings, "tests")
        return run_rule_tests(found, folders, self.settings.disabled_rules), found, problems

    # --- reading the database: sql, queries, status ------------------------------------------------

    def sql(self, query: str, params: list | dict | None = None, allow_files: bool = False) -> duckdb.DuckDBPyRelation:
        """Run a read-only query; the result is a DuckDB relation (``.df()`` gives pandas).

        Values go in ``params`` (``$name`` or ``?``), never into the query text. A relation
        is valid until the next writing call on this object. ``allow_files`` lifts the sandbox
        (COPY, read_csv ...). A query DuckDB refuses raises its ``duckdb.Error``.
        """
        return self._reading(sandboxed=not allow_files).sql(query, params=params)

    def queries(self) -> dict[str, CannedQuery]:
        """The canned queries of every layer (rules/queries), by name."""
        return load_queries(sub_dirs(self.settings, "queries"))

    def query(self, name: str, params: dict[str, str] | None = None,
              allow_files: bool = False) -> duckdb.DuckDBPyRelation:
        """Run the canned query ``name`` with its parameters."""
        canned = self.queries()
        if name not in canned:
            raise ConfigError(f"no canned query '{name}' (see `alertproc sql --list`)")
        return run_canned(self._reading(sandboxed=not allow_files), canned[name], params or {})

    def save_rows(self, relation: duckdb.DuckDBPyRelation, fmt: str = "table", out: str | Path | None = None,
                  keep_formulas: bool = False) -> tuple[str | None, int]:
        """A query's result as a table, CSV, JSON or Markdown: (the text, rows), or written to
        ``out`` (never over the database, the archive, rules or config): (None, rows). XLSX is
        written to ``out`` only."""
        if out is not None:
            self.check_output(out, fmt)
        if fmt == "xlsx":
            if out is None:
                raise ConfigError("an XLSX result is a file: give --out NAME.xlsx")
            with replacing(Path(out), self._protected() + code_and_config(self.settings, self.config.path)) as temporary:
                rows = xlsx_sheet(relation.description, relation.iter_rows(), temporary, keep_formulas)
            return None, rows
        frame = relation.df()
        text = tabulate(frame, fmt, keep_formulas)
        if out is None:
            return text, len(frame)
        with replacing(Path(out), self._protected() + code_and_config(self.settings, self.config.path)) as temporary:
            temporary.write_text(text, encoding="utf-8")
        return None, len(frame)

    def check_output(self, out: str | Path, fmt: str) -> None:
        """Refuse an output file that is the database, the archive, a rule or the config, or
        whose name says another format (before any work is done)."""
        check_target(Path(out), self._protected() + code_and_config(self.settings, self.config.path))
        check_data_file(Path(out), fmt)

    def status(self) -> dict:
        """What an operator checks first: watch's heartbeat, last runs, sync state, findings, last alerts, archive."""
        found = operator_status(self._reading(), Path(self.settings.archive))
        found["watch"] = listening(self.settings.db)
        return found

    def doctor(self) -> list[Check]:
        """Check the set-up: config, policy, formats, rules, database, archive, every IMAP account."""
        return diagnose(self.settings, self.config.accounts, self.environ, self.reader,
                        lambda: self._reading(sandboxed=False))

    # --- outputs: report, export, evidence -----------------------------------------------------

    def report(self, week: str | None = None, since: str | None = None, until: str | None = None,
               out: str | Path | None = None, mail_to: tuple[str, ...] | list[str] = (),
               client: str | None = None) -> Path:
        """Write the HTML report of an ISO week (``2026-W47``) or of ``since``..``until``; return
        its path. ``mail_to``: also send it through the [smtp] server. ``client``: that client's
        GSTINs only, and nothing of the others (``<report_dir>/<client>/`` by default)."""
        smtp = self.config.smtp_server() if mail_to else None
        period = choose_period(week, since, until)
        policy = policy_of(self.settings)
        chosen = self._client(policy, client) if client else None
        path = self._write_report(self._reading(sandboxed=False), period, Path(out) if out else None, policy, chosen)
        if smtp:
            send_report(smtp, path, list(mail_to), self._subject(period, chosen), self.environ)
        return path

    def client_reports(self, week: str | None = None, since: str | None = None, until: str | None = None,
                       progress: Progress | None = None) -> dict[str, Path]:
        """Write every client's report of the period (as a run does), each in
        ``<report_dir>/<client>/``, and mail each to its report_to when [smtp] is set."""
        period = choose_period(week, since, until)
        policy = policy_of(self.settings)
        if policy is None or not policy.clients:
            raise ConfigError(f"no clients: add `clients:` to the policy ({self.settings.policy}); docs/policy.md")
        return self._client_reports(self._reading(sandboxed=False), period, policy, progress)

    def _client(self, policy: Policy | None, name: str) -> Client:
        if policy is None:
            raise ConfigError(f"--client needs a policy with clients: there is no {self.settings.policy}")
        return policy.client(name)

    @staticmethod
    def _subject(period: Period, client: Client | None) -> str:
        return f"GST API access audit {period.label}" + (f" — {client.name}" if client else "")

    def _write_report(self, con: duckdb.DuckDBPyConnection, period: Period, out: Path | None = None,
                      policy: Policy | None | bool = True, client: Client | None = None,
                      view: ClientView | None = None, words: tuple[dict, list[str]] | None = None) -> Path:
        """``policy``: the one a run read already (True: read it now), for the report's notice.
        ``client``: over a copy of that client's part of the database (storage/scoped.py), in
        ``view`` when given; ``words``: :meth:`_report_words` when known (a run's reports of
        many clients share both: loading the rules takes 0.15 s)."""
        if policy is True:
            policy = policy_of(self.settings)
        notes, notices = words or self._report_words(policy)
        out_dir = Path(self.settings.report_dir)
        if client is None:
            clients = {c.name: c.gstins for c in policy.clients.values()} if policy else None
            return write_report(con, period, template_dirs(self.settings), Path(self.settings.archive), out=out,
                                out_dir=out_dir, rule_notes=notes, notices=notices, protected=self._protected(),
                                clients=clients)
        with contextlib.nullcontext(view) if view else ClientView(con) as shared:
            return write_report(shared.of(client.gstins), period, template_dirs(self.settings),
                                Path(self.settings.archive), out=out, out_dir=out_dir / client_folder(client.name),
                                rule_notes=notes, notices=notices, protected=self._protected(), client=client.name,
                                clients={client.name: client.gstins})

    def _report_words(self, policy: Policy | None) -> tuple[dict, list[str]]:
        """What a report says beside the data: each rule's title and description, and why
        approvals were not checked with ``policy`` (if so)."""
        rules, _ = rules_of(self.settings)
        notes = {r.id: {"title": r.title, "description": r.description} for r in rules}
        why = unchecked(self.settings, policy)
        return notes, [why[0].upper() + why[1:]] if why else []

    def _client_reports(self, con: duckdb.DuckDBPyConnection, period: Period,
                        policy: Policy | None, progress: Progress | None = None) -> dict[str, Path]:
        """A run with clients: each client's report, mailed to its report_to when [smtp] is set
        (a failed mail is logged; the reports stay written)."""
        written = {}
        if not policy or not policy.clients:
            return written
        words = self._report_words(policy)
        with ClientView(con) as view:
            for client in policy.clients.values():
                written[client.name] = self._write_report(con, period, policy=policy, client=client, view=view,
                                                          words=words)
                if progress:
                    progress(1)
                if client.report_to and self.config.smtp is not None:
                    try:
                        send_report(self.config.smtp, written[client.name], list(client.report_to),
                                    self._subject(period, client), self.environ)
                    except AlertprocError as exc:
                        log.warning("the report of %s was not mailed: %s", client.name, exc)
        return written

    def _notify(self, con: duckdb.DuckDBPyConnection) -> NotifyResult | None:
        """Announce new findings on the channels of [notify], if the config has one."""
        cfg = self.config.notify
        return notify(con, cfg, self.config.smtp if cfg.email else None, self.environ) if cfg else None

    def export(self, what: str, out: str | Path, fmt: str = "csv", since: str | None = None,
               until: str | None = None, keep_formulas: bool = False) -> int:
        """Write ``findings`` or ``events`` (CSV, XLSX, JSON lines or Parquet) to ``out``; the number of rows."""
        out = Path(out)
        if out.is_dir():
            raise ConfigError(f"--out {out} is a folder; give a file name, e.g. {out / (what + '.' + fmt)}")
        period = choose_period(None, since, until) if (since or until) else None
        return export_rows(self._reading(sandboxed=False), what, fmt, out, period, keep_formulas=keep_formulas,
                           protected=self._protected())

    def export_lake(self, lake: str | Path) -> LakeWrite:
        """Add what the Parquet lake at ``lake`` lacks, under the database's and the lake's locks."""
        with self._writing(doing="export lake") as (con, _):
            return export_lake(con, lake)

    def evidence(self, out: str | Path, week: str | None = None, since: str | None = None,
                 until: str | None = None, finding: str | None = None, client: str | None = None) -> packs.Pack:
        """Write an evidence pack (see ``alertproc evidence``) of a period or one finding;
        ``client``: of that client's GSTINs only, nothing of the others."""
        period = None if finding and not (week or since or until) else choose_period(week, since, until)
        con = self._reading(sandboxed=False)
        if client:
            con = client_copy(con, self._client(policy_of(self.settings), client).gstins)
        try:
            return packs.build(con, self._archive(), Path(out), lambda p, path: self._write_report(con, p, path),
                               period=period, finding_id=finding, protected=self._protected())
        finally:
            if client:
                con.close()

    @staticmethod
    def verify_evidence(pack: str | Path) -> packs.Verification:
        """Check every file of an evidence pack against its manifest."""
        return packs.verify(Path(pack))

    # --- formats and the set-up ------------------------------------------------------------------

    def formats(self) -> list[Format]:
        """Every alert format of every layer."""
        return self.reader().formats.formats

    def check_formats(self) -> list[PatternWarning]:
        """Load every format (an error names the file and line) and warn about risky patterns."""
        return check_formats(self.reader().formats)

    def explain(self, mail: bytes | str | Path) -> Explanation:
        """How one mail (its bytes, or a path to a .eml) is read, step by step; nothing is stored."""
        raw = mail if isinstance(mail, bytes) else Path(mail).read_bytes()
        return explain_mail(raw, self.reader())

    @staticmethod
    def init(directory: str | Path = ".") -> list[Path]:
        """Write a commented alertproc.toml and an example rules/policy.yaml in ``directory``
        (never over an existing file); the files written."""
        return write_starter_files(Path(directory))


def open(db: str | Path | None = None, config: str | Path | None = None, environ: dict[str, str] | None = None,
         **settings: object) -> Alertproc:
    """Open a database: ``db`` (default ``$ALERTPROC_DB`` or alertproc.duckdb), with the settings
    of ``config`` (default ``$ALERTPROC_CONFIG`` or ./alertproc.toml when present) and any
    settings given by name (``archive=``, ``policy=``, ``rules=`` ...). Formats, rules and the
    policy are checked at once. ``environ``: where ``*_env`` secrets are read [default: os.environ]."""
    app = Alertproc(load_config(config, db=str(db) if db else None, **settings), environ)
    app.check()
    return app
