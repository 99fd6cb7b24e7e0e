"""The Python API: what the CLI does, for scripts and notebooks.

    import alertproc
    with alertproc.open("alertproc.duckdb") as ap:
        ap.import_mail("sample_mailbox/mail")
        ap.detect()
        ap.sql("select * from findings").df()

docs/api.md has a longer example. Every writing call takes the database's run lock for its
own duration, so a notebook never blocks a scheduled run for longer than a call.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb

from .outputs import evidence as evidence_packs
from . import pipeline
from .storage import store
from .audit import triage
from .portal.accesslog import LogImport
from .config import Config, Settings, load_config
from .mail.fetch import FetchResult
from .mail.ingest import IngestStats
from .period import choose_period


class Alertproc:
    """One database (and its archive, rules and policy) opened from Python. Use :func:`open`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.settings = config.settings
        self._reader: duckdb.DuckDBPyConnection | None = None

    # --- writing: each call opens the database for itself, under the run lock ---------------

    def _writing(self, command: str, source: str | None):
        self._close_reader()  # DuckDB allows one configuration per file and process
        return _tracked(self.settings, command, source)

    def import_mail(self, path: str | Path, kind: str | None = None) -> IngestStats:
        """Import a folder of .eml files, a Maildir or an mbox (``kind`` guessed when None)."""
        with self._writing(f"import {kind or 'mail'}", str(path)) as (con, run_id):
            return pipeline.import_mail(con, self.settings, Path(path), kind, run_id)

    def import_sms(self, path: str | Path) -> IngestStats:
        """Import an SMS export (SMS Backup & Restore XML, or CSV/XLSX)."""
        with self._writing("import sms", str(path)) as (con, run_id):
            return pipeline.import_sms_file(con, self.settings, Path(path), run_id)

    def import_access_log(self, path: str | Path, gstin: str | None = None) -> LogImport:
        """Import a portal access log (CSV or XLSX); ``gstin`` when the file has no GSTIN column."""
        with self._writing("import access-log", str(path)) as (con, run_id):
            return pipeline.import_access_log_file(con, self.settings, Path(path), gstin, run_id)

    def import_tokens(self, path: str | Path, gstin: str | None = None, taken_at: datetime | None = None):
        """Import an Active Tokens list (Manage API Access) as a snapshot taken at ``taken_at``
        (naive = IST; default: the file's modification time)."""
        with self._writing("import tokens", str(path)) as (con, run_id):
            return pipeline.import_tokens_file(con, Path(path), gstin, taken_at, run_id)

    def fetch(self, dry_run: bool = False, file_away: bool = True, since: date | None = None,
              until: date | None = None, account: str | None = None) -> list[FetchResult]:
        """Fetch new alerts from every ``[imap]`` / ``[[imap]]`` account of the config (or the
        one named ``account``), one result each; the first account that fails raises."""
        self._close_reader()
        return [pipeline.fetch_job(self.settings, cfg, dry_run=dry_run, file_away=file_away, since=since,
                                   until=until, environ=dict(os.environ))
                for cfg in self.config.imap_accounts(account)]

    def detect(self, policy: str | Path | None = None) -> pipeline.DetectResult:
        """Recompute the findings (with ``policy`` instead of the configured policy file)."""
        settings = replace(self.settings, policy=str(policy)) if policy else self.settings
        with self._writing("detect", None) as (con, _):
            return pipeline.detect(con, settings)

    def report(self, week: str | None = None, since: str | None = None, until: str | None = None,
               out: str | Path | None = None) -> Path:
        """Write the HTML report of an ISO week (``2026-W47``) or of ``since``..``until``; return its path."""
        period = choose_period(week, since, until)
        with self._writing("report", period.slug) as (con, _):
            return pipeline.report(con, self.settings, period, Path(out) if out else None)

    def triage(self, finding_id: str, action: str, note: str | None = None, by: str | None = None,
               until: date | None = None) -> dict:
        """Acknowledge (``"acknowledged"``), suppress (``"suppressed"``, optionally ``until`` a
        day) or reopen (``"reopened"``) a finding; returns the history entry."""
        self._close_reader()
        with pipeline.writing(self.settings) as con:
            return triage.record(con, finding_id, action, note, by, until)

    def findings(self, status: str = "open", rule: str | None = None) -> list[dict]:
        """Findings in a triage state (``open``, ``acknowledged``, ``suppressed``, ``all``)."""
        return triage.listed(self._reading(), status, rule)

    def evidence(self, out: str | Path, week: str | None = None, since: str | None = None,
                 until: str | None = None, finding: str | None = None) -> evidence_packs.Pack:
        """Write an evidence pack (see ``alertproc evidence``) of a period or one finding."""
        self._close_reader()
        return pipeline.evidence_job(self.settings, Path(out), week=week, since=since, until=until, finding=finding)

    # --- reading ---------------------------------------------------------------------------

    def sql(self, query: str, params: list | dict | None = None) -> duckdb.DuckDBPyRelation:
        """Run a read-only query; the result is a DuckDB relation (``.df()`` gives pandas).

        Values go in ``params`` (``$name`` or ``?``), never into the query text. A relation
        is valid until the next writing call on this object.
        """
        return self._reading().sql(query, params=params)

    def _reading(self) -> duckdb.DuckDBPyConnection:
        """The read connection, opened at the first read: read-only, in the sandbox of `alertproc sql`."""
        if self._reader is None:
            self._reader = store.connect(self.settings.db, read_only=True, sandboxed=True)
        return self._reader

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


@contextmanager
def _tracked(settings: Settings, command: str, source: str | None) -> Iterator[tuple[duckdb.DuckDBPyConnection, int]]:
    """The database opened for writing, under the lock, with a ``runs`` row for the call."""
    with pipeline.writing(settings) as con, pipeline.tracked(con, command, source) as run_id:
        yield con, run_id


def open(db: str | Path | None = None, config: str | Path | None = None, **settings: object) -> Alertproc:
    """Open a database: ``db`` (default ``$ALERTPROC_DB`` or alertproc.duckdb), with the settings
    of ``config`` (default ``$ALERTPROC_CONFIG`` or ./alertproc.toml when present) and any
    settings given by name (``archive=``, ``policy=``, ``rules=`` ...). Checked at once."""
    loaded = load_config(config, db=str(db) if db else None, **settings)
    pipeline.reader_of(loaded.settings)  # formats, rules and the policy are checked now, not at the first import
    pipeline.rules_of(loaded.settings)
    pipeline.policy_of(loaded.settings)
    return Alertproc(loaded)
