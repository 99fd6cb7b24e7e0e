"""The database users open is a published copy, so that readers never block the writer.

DuckDB lets one process write a file *or* any number of processes read it, never both: a
notebook, Harlequin or DBeaver left open on the database would make the scheduled job fail.
So alertproc writes a private working file beside it (``.alertproc.duckdb.working``), under the
run lock, and after each job copies it to a temporary file in the same folder and renames that
over the database. A reader keeps the file it opened (an open file outlives the rename) and
sees the new data when it connects again.

Both files are written in DuckDB storage version 64 (compatibility ``v1.1.0``), which every
DuckDB since 1.1 reads, the duckdb CLI on PyPI and Harlequin's included. DuckDB 2.0's own
default (version 69 and up) is readable by nothing older than 2.0.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import time
from datetime import datetime
from pathlib import Path

import duckdb

from ..errors import DatabaseError

log = logging.getLogger(__name__)

COMPATIBILITY = "v1.1.0"
READABLE_VERSIONS = range(64, 65)  # the header's storage version that COMPATIBILITY writes


def working_file(db: str | Path) -> Path:
    """The private file the writer works on."""
    db = Path(db)
    return db.with_name(f".{db.name}.working")


def _record_file(db: Path) -> Path:
    return db.with_name(f".{db.name}.published")


def storage_version(path: Path) -> int:
    """The storage version in a DuckDB file's header (0: not a DuckDB file)."""
    with open(path, "rb") as handle:
        header = handle.read(20)
    return struct.unpack("<Q", header[12:20])[0] if header[8:12] == b"DUCK" else 0


def working(db: str | Path) -> Path:
    """The working file, under the run lock; made from the published database when there is
    none yet (the first run of this version over an older one's file, or after it was deleted).
    A file in a storage version too new for other tools is converted on the way."""
    db = Path(db)
    work = working_file(db)
    if work.exists() or not db.exists():
        return work
    if storage_version(db) in READABLE_VERSIONS and not Path(f"{db}.wal").exists():
        _copy(db, work)
    else:
        _convert(db, work)
    _remember(db, work)  # the file it came from is ours to replace
    return work


def _convert(source: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute("attach ? as source (read_only)", [str(source)])
        con.execute(f"attach ? as target (storage_version '{COMPATIBILITY}')", [str(partial)])
        con.execute("copy from database source to target")
        con.execute("detach target")
    except duckdb.Error as exc:
        partial.unlink(missing_ok=True)
        raise DatabaseError(f"{source}: could not convert it to storage version {COMPATIBILITY} "
                            f"({str(exc).splitlines()[0]}); it is unchanged") from exc
    finally:
        con.close()
    os.replace(partial, target)


def _copy(source: Path, target: Path, before_rename=None) -> None:
    """``source`` to ``target`` by way of a temporary file renamed into place: whoever opens
    ``target`` gets the old file or the new one, never half of one. ``before_rename`` gets the
    finished temporary file."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with open(source, "rb") as src, open(partial, "xb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        if before_rename:
            before_rename(partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _identity(path: Path) -> list[int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return [info.st_ino, info.st_size, info.st_mtime_ns]


def _remember(db: Path, work: Path, copy: Path | None = None) -> None:
    """Note which database file alertproc wrote (``copy``, before it is renamed over ``db``:
    a rename keeps a file's identity) and the working file it came from. The one before stays
    ours too, so a crash between the note and the rename is no change by someone else."""
    record = {"published": _identity(copy or db), "before": _identity(db), "working": _identity(work)[1:]}
    _record_file(db).write_text(json.dumps(record), encoding="utf-8")


def _recorded(db: Path) -> dict:
    try:
        return json.loads(_record_file(db).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def publish(db: str | Path) -> Path | None:
    """Copy the working file over the database when it changed since the last copy. Returns
    where a database that was changed by someone else since (opened read-write, or restored
    from a backup) was put aside, or None: alertproc never replaces what it did not write."""
    db = Path(db)
    work = working_file(db)
    if not work.exists():
        return None
    record = _recorded(db)
    current = _identity(db)
    wal = Path(f"{db}.wal")  # another writer's log would be replayed into the new copy
    if current and current == record.get("published") and record.get("working") == _identity(work)[1:] \
            and not wal.exists():
        return None  # nothing was written since the last copy
    aside = None
    if current and (current not in (record.get("published"), record.get("before")) or wal.exists()):
        aside = _unused(db.with_name(f"{db.name}.changed-{datetime.now():%Y%m%d-%H%M%S}"))
        os.replace(db, aside)
        if wal.exists():
            os.replace(wal, Path(f"{aside}.wal"))
        log.warning("%s was changed outside alertproc since alertproc last wrote it; it is kept as %s and "
                    "replaced by alertproc's own data. Open the database read-only (duckdb -readonly, "
                    "harlequin -r, DBeaver's read-only connection)", db, aside.name)
    started = time.monotonic()
    _copy(work, db, before_rename=lambda copy: _remember(db, work, copy))
    log.info("published %s for readers (%.1f MB in %.2f s)", db, db.stat().st_size / 1e6, time.monotonic() - started)
    return aside


def _unused(path: Path) -> Path:
    found, number = path, 1
    while found.exists() or Path(f"{found}.wal").exists():
        number += 1
        found = path.with_name(f"{path.name}-{number}")
    return found


def files(db: str | Path) -> list[Path]:
    """The files besides the database itself that belong to it."""
    work = working_file(db)
    return [work, Path(f"{work}.wal"), _record_file(Path(db))]
