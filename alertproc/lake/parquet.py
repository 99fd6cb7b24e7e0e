"""The event lake: Hive-partitioned Parquet that Spark, Trino or DuckDB read (docs/scale.md).

``<lake>/events/month=YYYY-MM/part-<write>-<n>.parquet``, and the same for ``messages``
(by month received) and ``findings`` (by month the finding starts). Files are only ever
added, never rewritten: an export writes the rows the lake does not hold yet into a staging
folder, moves the finished files into place, syncs, and only then records how far it got
(``lake_exports``). A crash anywhere leaves at most unreferenced staging files and rows
that the rerun writes once; it never duplicates a row, because each write first leaves out
the rows whose id is already in the month folders it touches.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..storage import lock
from ..errors import ConfigError
from ..faults import crash_point
from ..storage.queries import package_queries
from ..storage.store import first_row, now

TABLES = ("events", "messages", "findings")
IDENTITY = {"events": "event_id", "messages": "sha256", "findings": "version_id"}
STAGING = "_staging"  # a leading underscore: Spark, Hive and Trino skip it when they list a table


@dataclass
class LakeWrite:
    """Rows and files one export (or one detect on the lake) added, per table."""

    lake: str
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)


def lake_root(path: str | Path) -> Path:
    """The lake folder as an absolute local path; URLs are for Spark (see docs/scale.md)."""
    text = str(path)
    if "://" in text:
        raise ConfigError(f"{text}: alertproc writes a lake to a local or mounted folder; copy it to object "
                          "storage with `aws s3 sync` / `gsutil rsync` (files are never rewritten), or "
                          "run `detect --engine spark`, which reads URLs itself")
    return Path(text).expanduser().resolve()


@contextmanager
def lake_lock(lake: str | Path) -> Iterator[Path]:
    """Hold ``<lake>/_alertproc.lock`` (one writer per lake) and yield the lake's root.

    Staging files a crashed writer left behind are removed first: under the lock nobody
    else can be writing them.
    """
    root = lake_root(lake)
    root.mkdir(parents=True, exist_ok=True)
    with lock.exclusive(str(root / "_alertproc")):
        shutil.rmtree(root / STAGING, ignore_errors=True)
        yield root


def parquet_files(root: Path, table: str, months: list[str] | None = None) -> list[str]:
    """The table's Parquet files, all or only those of ``months``, as sorted path strings."""
    folders = [root / table / f"month={m}" for m in months] if months is not None else sorted((root / table).glob("month=*"))
    return sorted(str(f) for folder in folders for f in folder.glob("*.parquet"))


def _write(con: duckdb.DuckDBPyConnection, root: Path, table: str, query: str, params: dict) -> tuple[int, int]:
    """COPY ``query`` (with a ``month`` column) into the table's partitions; return rows and files."""
    token = uuid.uuid4().hex[:12]
    staging = root / STAGING / f"{table}-{token}"
    staging.parent.mkdir(parents=True, exist_ok=True)
    target = str(staging).replace("'", "''")  # our own path; COPY takes no parameter for it
    rows = con.execute(f"copy ({query}) to '{target}' (format parquet, partition_by (month), "
                       f"filename_pattern 'part-{token}-{{i}}')", params).fetchall()[0][0]
    files = sorted(staging.glob("month=*/*.parquet"))
    for written in files:
        final = root / table / written.parent.name / written.name
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(written, final)
        crash_point("after_lake_file_moved")
    shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):  # left when another write is under way, or a crashed one's files
        staging.parent.rmdir()
    return rows, len(files)


def _new_rows(con: duckdb.DuckDBPyConnection, root: Path, table: str, candidates: str, params: dict) -> str:
    """``candidates`` less the rows whose id is already in the month folders they would go to."""
    months = [m for (m,) in con.execute(f"select distinct month from ({candidates})", params).fetchall()]
    files = parquet_files(root, table, months)
    if not files:
        return candidates
    params["lake_files"] = files
    key = IDENTITY[table]
    return (f"select c.* from ({candidates}) c where not exists (select 1 from "
            f"read_parquet($lake_files, hive_partitioning = false, union_by_name = true) l where l.{key} = c.{key})")


def _view(con: duckdb.DuckDBPyConnection, name: str, files: list[str], empty: str) -> None:
    """View ``name`` over the Parquet ``files``, or over the query ``empty`` when there are none."""
    relation = con.read_parquet(files, hive_partitioning=False, union_by_name=True) if files else con.sql(empty)
    relation.create_view(name, replace=True)


def attach(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Make ``events`` and ``messages`` in ``con`` (an in-memory database) read the lake.

    The database's own ``events`` table, which holds the policy's manual revocations, stays
    in as ``manual_events`` and joins the lake's observed events.
    """
    con.execute("alter table events rename to manual_events")
    con.execute("alter table messages rename to no_messages")
    _view(con, "lake_events", parquet_files(root, "events"), "select * from manual_events limit 0")
    _view(con, "lake_messages", parquet_files(root, "messages"), "select * from no_messages limit 0")
    con.execute("create temp view events as select * from lake_events union all by name select * from manual_events")
    con.execute("create temp view messages as select * from lake_messages")


def write_findings(con: duckdb.DuckDBPyConnection, root: Path, result: LakeWrite) -> None:
    """Add the versions of ``findings`` the lake does not hold yet."""
    _view(con, "lake_findings", parquet_files(root, "findings"),
          "select finding_id, first_detected_at, '' as version_id from findings limit 0")
    rows, files = _write(con, root, "findings", package_queries("lake.sql")["findings"], {})
    result.rows["findings"], result.files["findings"] = rows, files


def export_lake(con: duckdb.DuckDBPyConnection, lake: str | Path) -> LakeWrite:
    """Add to ``lake`` the events, messages and findings of this database it does not hold yet."""
    with lake_lock(lake) as root:
        return _export(con, root)


def _export(con: duckdb.DuckDBPyConnection, root: Path) -> LakeWrite:
    result = LakeWrite(str(root))
    queries = package_queries("lake.sql")
    done: dict[str, object] = {}
    for table in ("events", "messages"):
        saved = first_row(con, "select exported_until from lake_exports where lake = ? and table_name = ?",
                          [str(root), table])
        params = {"exported_until": saved[0] if saved else None}
        candidates = queries[table]
        done[table] = first_row(con, f"select max(imported_at) from ({candidates})", params)[0]
        if done[table] is None:
            result.rows[table], result.files[table] = 0, 0
            continue
        rows = _new_rows(con, root, table, candidates, params)
        result.rows[table], result.files[table] = _write(con, root, table, rows, params)
    write_findings(con, root, result)
    os.sync()  # the files are durable before the database says they are there
    crash_point("after_lake_sync")
    for table, until in done.items():
        if until is not None:
            con.execute("insert or replace into lake_exports values (?, ?, ?, ?)", [str(root), table, until, now()])
    return result
