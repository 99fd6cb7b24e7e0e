"""The DuckDB database: connecting, migrating, and batch writes of messages and events."""

from __future__ import annotations

import os
import re

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa

from ..errors import DatabaseError, LockedError
from .published import COMPATIBILITY
from .rekey import rekey_asp_names

MESSAGE_COLUMNS = (
    "sha256", "message_id", "source", "account", "folder", "uidvalidity", "uid", "source_ref",
    "received_at", "from_addr", "subject", "return_path", "auth_results", "forwarded",
    "size_bytes", "archive_path", "kind", "format_id", "parse_status", "parse_error",
    "duplicate_of", "imported_at", "run_id", "sender_check", "sender_detail",
)


def message_row(**values: object) -> dict:
    """A ``messages`` row: every column of :data:`MESSAGE_COLUMNS`, None unless given. Mail
    (reading.parse), SMS (portal.sms) and the import (mail.ingest) all start a row here, so a
    name that is not a column fails where it is written, not as a missing value in the table."""
    unknown = set(values) - _MESSAGE_COLUMN_SET
    if unknown:
        raise ValueError(f"not columns of messages: {', '.join(sorted(unknown))}")
    return {**_EMPTY_MESSAGE, **values}


_MESSAGE_COLUMN_SET = frozenset(MESSAGE_COLUMNS)
_EMPTY_MESSAGE = dict.fromkeys(MESSAGE_COLUMNS)
EVENT_COLUMNS = (
    "event_id", "kind", "gstin", "gstin_valid", "asp_name", "asp_key", "gsp_name", "occurred_at",
    "valid_until", "channel", "status", "format_id", "source_sha256", "source_ref", "imported_at",
)
_TS = pa.timestamp("us", tz="UTC")
_TYPES = {
    "uidvalidity": pa.int64(), "uid": pa.int64(), "size_bytes": pa.int64(), "run_id": pa.int64(),
    "forwarded": pa.bool_(), "gstin_valid": pa.bool_(),
    "received_at": _TS, "imported_at": _TS, "occurred_at": _TS, "valid_until": _TS,
}


def _migrations() -> list[tuple[int, str]]:
    files = resources.files("alertproc.sql")
    found = []
    for entry in files.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), entry.read_text(encoding="utf-8")))
    return sorted(found)


SCHEMA_VERSION = max(v for v, _ in _migrations())


def _explain(exc: duckdb.Error, path: str, read_only: bool) -> Exception:
    text = str(exc)
    if "lock" in text.lower():
        held = re.search(r"held in (.+?) \(PID (\d+)\)", text)
        holder = f"{Path(held[1]).name}, pid {held[2]}" if held else "another program"
        if read_only:
            return LockedError(f"{path} is open for writing in {holder}, and DuckDB then lets nobody else read it: "
                               "open it read-only there (duckdb -readonly, harlequin -r, DBeaver: read-only "
                               "connection) and try again")
        return LockedError(f"{path} is open in {holder}; alertproc's working file is its own: close it there "
                           "and try again")
    return DatabaseError(f"{path}: {text.splitlines()[0]}")


# What `alertproc sql` runs under: a query sees the database and nothing else. Without it,
# `COPY (...) TO '/any/path'` writes files (over rules/*.sql, which detect then runs),
# read_text('/etc/shadow') reads them and INSTALL downloads code.
SANDBOX = {"enable_external_access": False, "autoinstall_known_extensions": False,
           "autoload_known_extensions": False, "allow_community_extensions": False}


def _config(read_only: bool, sandboxed: bool) -> dict:
    config = dict(SANDBOX) if sandboxed else {}
    if not read_only:  # a new file in the storage version other tools read (storage/published.py)
        config["storage_compatibility_version"] = COMPATIBILITY
    return config


@contextmanager
def private_files() -> Iterator[None]:
    """Files created in the block (the database, its WAL and lock) readable by their owner only:
    they hold what the taxpayer receives. DuckDB has no mode of its own, so the umask it is."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def connect(path: str | Path, read_only: bool = False, sandboxed: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the database (creating and migrating it unless ``read_only``); ``sandboxed``: no
    file, network or extension access beyond the database itself (see :data:`SANDBOX`)."""
    path = str(path)
    if read_only and path != ":memory:" and not Path(path).exists():
        raise DatabaseError(f"{path}: no database here yet; run `alertproc run` or `alertproc import` first")
    try:
        with private_files():
            con = duckdb.connect(path, read_only=read_only, config=_config(read_only, sandboxed))
    except duckdb.Error as exc:
        raise _explain(exc, path, read_only) from exc
    con.execute("set TimeZone = 'UTC'")
    if sandboxed:
        con.execute("set lock_configuration = true")  # after our own settings: the query may not undo them
    version = SCHEMA_VERSION if path == ":memory:" else _version(con)
    if version > SCHEMA_VERSION:
        con.close()
        raise DatabaseError(f"{path} was written by a newer alertproc (schema version {version}; this one knows up to "
                            f"{SCHEMA_VERSION}); upgrade alertproc (`pip install -U alertproc`) to use it")
    if not read_only:
        migrate(con)
    elif path != ":memory:":
        if version < SCHEMA_VERSION:
            con.close()
            raise DatabaseError(f"{path} has schema version {version}, this alertproc needs {SCHEMA_VERSION}; "
                                "run any writing command once (e.g. `alertproc detect`) to migrate it")
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction around the block: committed at its end, rolled back if DuckDB fails in it."""
    con.execute("begin")
    try:
        yield
        con.execute("commit")
    except duckdb.Error:
        try:
            con.execute("rollback")
        except duckdb.Error:
            pass  # a failed commit (a full disk) has ended the transaction already: the first error is the news
        raise


def _rekey(con: duckdb.DuckDBPyConnection) -> None:
    rekey_asp_names(con)


# Steps a migration's SQL cannot express, run after that file in the same transaction.
_PYTHON_STEPS = {7: _rekey}


def _version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of a database file (0: a new, empty file)."""
    known = con.execute("select count(*) from duckdb_tables() where table_name = 'schema_version' "
                        "and database_name = current_database()").fetchall()[0][0]
    return int(con.execute("select coalesce(max(version), 0) from schema_version").fetchall()[0][0]) if known else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply the numbered ``alertproc/sql/NNN_*.sql`` files not yet applied; return the version."""
    con.execute("create table if not exists schema_version (version integer primary key, applied_at timestamptz)")
    current = scalar(con, "select coalesce(max(version), 0) from schema_version")
    for version, sql in _migrations():
        if version <= current:
            continue
        with transaction(con):
            con.execute(sql)
            if version in _PYTHON_STEPS:
                _PYTHON_STEPS[version](con)
            con.execute("insert into schema_version values (?, ?)", [version, now()])
        current = version
    return current


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple | None:
    """The first row of a query, or None; the result is read to its end, leaving nothing pending."""
    rows = con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()
    return rows[0] if rows else None


def records(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> list[dict]:
    """Every row of a query as a dict by column name."""
    cursor = con.execute(sql, params) if params is not None else con.execute(sql)
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> object:
    """The first value of the first row of a query."""
    return first_row(con, sql, params)[0]


def now() -> datetime:
    """The current time, tz-aware UTC (one place, so tests and rows agree on the type)."""
    return datetime.now(timezone.utc)


def arrow_table(rows: list[dict], columns: tuple[str, ...]) -> pa.Table:
    """Rows as an Arrow table with the schema's column order and types."""
    arrays = []
    for name in columns:
        values = [row.get(name) for row in rows]
        arrays.append(pa.array(values, type=_TYPES.get(name, pa.string())))
    return pa.Table.from_arrays(arrays, names=list(columns))


def stored_messages(con: duckdb.DuckDBPyConnection, shas: list[str]) -> dict[str, dict]:
    """Which of ``shas`` are stored, each with what filing needs of it (kind, parse_status, sender_check)."""
    # DuckDB reads local Arrow tables named in SQL ("replacement scans"); con.register() would
    # fail whenever a caller left a result unfetched on the connection.
    lookup = pa.table({"sha256": pa.array(shas, pa.string())})  # noqa: F841
    rows = con.execute("select m.sha256, m.kind, m.parse_status, m.sender_check, m.from_addr, m.forwarded "
                       "from messages m join lookup l using (sha256)").fetchall()
    return {sha: {"kind": kind, "parse_status": status, "sender_check": check, "from_addr": sender, "forwarded": fwd}
            for sha, kind, status, check, sender, fwd in rows}


def message_id_owners(con: duckdb.DuckDBPyConnection, message_ids: list[str], senders: frozenset[str]
                      ) -> dict[str, str]:
    """The stored genuine mail of a configured sender (sha256) that each of ``message_ids`` belongs to.

    Only such mail owns a Message-ID: anyone can put a genuine alert's Message-ID on a spoof
    or on junk, and neither may make the genuine alert a ``duplicate`` (nor be made one).
    """
    ids = pa.table({"message_id": pa.array(message_ids, pa.string())})  # noqa: F841 (read by name in the SQL)
    return dict(con.execute(
        "select m.message_id, min(m.sha256) from messages m join ids i using (message_id) "
        "where m.parse_status <> 'duplicate' and m.sender_check = 'genuine' and list_contains(?, m.from_addr) "
        "group by 1", [sorted(senders)]).fetchall())


def insert_batch(con: duckdb.DuckDBPyConnection, messages: list[dict], events: list[dict]) -> int:
    """Insert one batch in one transaction; events already stored are skipped. Returns new events."""
    message_table = arrow_table(messages, MESSAGE_COLUMNS)  # noqa: F841 (read by name in the SQL)
    with transaction(con):
        con.execute("insert into messages select * from message_table")
        return insert_events(con, events)


def insert_events(con: duckdb.DuckDBPyConnection, events: list[dict]) -> int:
    """Insert events not stored yet (by ``event_id``), inside the caller's transaction."""
    if not events:
        return 0
    event_table = arrow_table(events, EVENT_COLUMNS)  # noqa: F841 (read by name in the SQL)
    # An event id is derived from its time (domain.event_id), so a stored copy has the same
    # occurred_at. Bounding the lookup by the batch's times as constants lets DuckDB skip the
    # row groups outside them (zone maps): 1,000 new events into a 10 M-event database took
    # 0.43 s reading every id, 5 ms this way.
    times = [event["occurred_at"] for event in events]
    return con.execute("insert into events select * from (select distinct on (event_id) * from event_table) t "
                       "where not exists (select 1 from events e where e.occurred_at between $first and $last "
                       "and e.event_id = t.event_id)", {"first": min(times), "last": max(times)}).fetchall()[0][0]
