"""Every kind of input, registered once: its kind (``alertproc import KIND``), the option of
``alertproc run`` that adds it to a run, what it accepts, and how it is read.

A new input kind is one :class:`Input` here plus the module that reads it: the CLI's
``import`` and ``run`` and the API's :meth:`~alertproc.app.alertproc.Alertproc.import_file` take
their choices from :data:`INPUTS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import duckdb

from ..config import Settings
from ..errors import ConfigError
from ..mail.fetch import FetchResult
from ..mail.mailbox import Mailbox
from ..mail.sources import LocalSource, detect_kind
from ..portal.accesslog import import_access_log
from ..portal.portal_tokens import import_tokens
from ..portal.sms import import_sms, read_sms
from ..storage.runs import IngestStats, record_rows, record_stats

from ..reading.parse import MailReader

Progress = Callable[[int], None]


class Alertproc(Protocol):
    """What a reader needs of the application object (alertproc.app.alertproc imports this module)."""

    settings: Settings

    def reader(self) -> MailReader: ...

    def _sync(self, con: duckdb.DuckDBPyConnection | None, mailbox: Mailbox, filing: None, run_id: int | None, *,
              progress: Progress | None = None) -> FetchResult: ...


@dataclass(frozen=True)
class Input:
    """One kind of input."""

    kind: str  # `alertproc import KIND`, `ap.import_file(KIND, path)`
    describe: str  # one line of `alertproc import --help`
    read: Callable[..., object]  # (ap, con, path, run_id, progress, **options) -> what the import did
    run_option: str | None = None  # `alertproc run --OPTION FILE` (repeatable); mail comes by --source
    noun: str = ""  # what `run --OPTION` takes, for its help
    options: tuple[str, ...] = ()  # which of gstin, taken_at it accepts

    def counts(self, result: object) -> IngestStats:
        """What it did, as counts a run adds up (a table import counts its new events only)."""
        return result if isinstance(result, IngestStats) else IngestStats(events_new=result.events_new)


def _mail(ap: Alertproc, con: duckdb.DuckDBPyConnection, path: Path, run_id: int, progress: Progress | None,
          kind: str | None = None) -> IngestStats:
    source = LocalSource(path, kind or detect_kind(path))
    return ap._sync(con, source, None, run_id, progress=progress).imported


def _sms(ap: Alertproc, con: duckdb.DuckDBPyConnection, path: Path, run_id: int, progress: Progress | None) -> IngestStats:
    stats = import_sms(con, read_sms(path), ap.reader().formats, ap.settings.sms_senders, run_id, progress)
    record_stats(con, run_id, stats)
    return stats


def _access_log(ap: Alertproc, con: duckdb.DuckDBPyConnection, path: Path, run_id: int, progress: Progress | None,
                gstin: str | None = None):
    result = import_access_log(con, path, gstin, progress)
    record_rows(con, run_id, result.rows, result.events_new)
    return result


def _tokens(ap: Alertproc, con: duckdb.DuckDBPyConnection, path: Path, run_id: int, progress: Progress | None,
            gstin: str | None = None, taken_at: datetime | None = None):
    result = import_tokens(con, path, gstin, taken_at)
    record_rows(con, run_id, result.rows, result.events_new)
    return result


def _mail_of(kind: str) -> Callable[..., IngestStats]:
    return lambda ap, con, path, run_id, progress: _mail(ap, con, path, run_id, progress, kind)


INPUTS: dict[str, Input] = {one.kind: one for one in (
    Input("eml", "a .eml file or a folder of them (searched recursively)", _mail_of("eml")),
    Input("maildir", "a Maildir (with its sub-folders)", _mail_of("maildir")),
    Input("mbox", "an mbox file", _mail_of("mbox")),
    Input("sms", "SMS Backup & Restore XML, or CSV/XLSX with date, sender and body columns", _sms,
          run_option="sms", noun="SMS export"),
    Input("access-log", "CSV or XLSX saved from Manage API Access > View Logs", _access_log,
          run_option="access-log", noun="portal access log, with a GSTIN column", options=("gstin",)),
    Input("tokens", "CSV or XLSX of Manage API Access > Active Tokens (a snapshot of who holds a token)", _tokens,
          run_option="tokens", noun="Active Tokens list, with a GSTIN column", options=("gstin", "taken_at")),
)}
MAIL_KINDS = ("eml", "maildir", "mbox")


def input_of(kind: str) -> Input:
    """The registered input ``kind``; an error naming the kinds there are."""
    if kind not in INPUTS:
        raise ConfigError(f"unknown input kind '{kind}' (use one of: {', '.join(INPUTS)})")
    return INPUTS[kind]
