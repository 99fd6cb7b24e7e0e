"""``alertproc status``: the state of things, read-only."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from ..domain import SEVERITIES
from ..storage.store import records, scalar


def _archive_size(root: Path) -> tuple[int, int]:
    files = size = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                try:  # a run writing meanwhile renames its temporary files away
                    size += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    continue
                files += 1
    return files, size


_IST = "strftime(timezone('Asia/Kolkata', {}), '%d-%m-%Y %H:%M') || ' IST'"


def operator_status(con: duckdb.DuckDBPyConnection, archive: Path) -> dict:
    """Last run per command and source, sync state, findings, last alerts, archive size."""
    files, size = _archive_size(archive)
    return {
        "runs": records(con, "select command, source, status, started_at, finished_at, error, "
                           f"{_IST.format('coalesce(finished_at, started_at)')} as at_ist from runs "
                           "qualify row_number() over (partition by command, source order by run_id desc) = 1 "
                           "order by started_at desc limit 20"),
        "sync": records(con, f"select account, folder, uidvalidity, last_uid, updated_at, {_IST.format('updated_at')} "
                             "as updated_ist from sync_state order by 1, 2"),
        "findings": dict(con.execute("select severity, count(*) from findings group by 1 order by "
                                     "list_position($order, severity)", {"order": list(SEVERITIES)}).fetchall()),
        "not_notified": scalar(con, "select count(*) from findings f where not exists (select 1 from notifications n "
                                    "where n.finding_id = f.finding_id and n.status = 'sent')"),
        # each ASP under its one name (asp_names), aliases with the ASP they stand for
        "last_seen": records(con, "select gstin, any_value(n.asp_name) as asp_name, "
                                "strftime(timezone('Asia/Kolkata', max(occurred_at)), '%d-%m-%Y %H:%M') as last_ist "
                                "from events e join asp_names n using (asp_key) where kind <> 'suspicious_alert' "
                                "group by gstin, n.pair_key order by max(occurred_at) desc limit 50"),
        "unparsed": records(con, "select strftime(timezone('Asia/Kolkata', received_at), '%d-%m-%Y %H:%M') as received_ist, "
                               "subject, parse_error from messages where parse_status = 'unparsed' "
                               "order by received_at desc nulls last limit 20"),
        "unparsed_total": scalar(con, "select count(*) from messages where parse_status = 'unparsed'"),
        "suspicious_total": scalar(con, "select count(*) from messages where parse_status = 'suspicious'"),
        "archive_files": files,
        "archive_mb": round(size / 1e6, 1),
    }
