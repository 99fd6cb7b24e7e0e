"""One client's part of the database, as a database of its own (#32 item 4).

A CA firm's client report, evidence pack and finding list must show nothing of the other
clients: not in tables, evidence, counts or links. Rather than add a GSTIN filter to every
query the report runs (and miss one), the client's rows are copied into an in-memory database
with the same schema, and the unchanged report and pack run over that: what was not copied
cannot leak.

Copied: the events of the client's GSTINs, the messages they came from, the findings on those
GSTINs and their triage, the policy's entries for those GSTINs (its aliases and thresholds
whole), and detect's context. Not copied: mail that names no GSTIN (unparsed or unreadable:
no client can be told from it; the firm-wide report lists it), runs, mailboxes' sync state,
users, the ASP inventory's summary (rebuilt from the client's own events) and everything else.
"""

from __future__ import annotations

import duckdb

from . import store

# Each table copied, and which of its rows belong to the client (``scope``: the GSTINs).
_COPIED = {
    "events": "select * from events where gstin in (select unnest($gstins))",
    "messages": "select * from messages where sha256 in (select source_sha256 from events "
                "where gstin in (select unnest($gstins)) and source_sha256 is not null)",
    "findings": "select * from findings where gstin in (select unnest($gstins))",
    "finding_triage": "select * from finding_triage where finding_id in "
                      "(select finding_id from findings where gstin in (select unnest($gstins)))",
    "policy_gstins": "select * from policy_gstins where gstin in (select unnest($gstins))",
    "policy_approved_asps": "select * from policy_approved_asps where gstin in (select unnest($gstins))",
    "policy_asp_aliases": "select * from policy_asp_aliases",
    "policy_thresholds": "select * from policy_thresholds",
    "detect_context": "select * from detect_context",
}


def client_copy(source: duckdb.DuckDBPyConnection, gstins: list[str] | tuple[str, ...]) -> duckdb.DuckDBPyConnection:
    """An in-memory database holding only the rows of ``gstins`` (see the module's doc)."""
    copy = store.connect(":memory:")
    try:
        for table, sql in _COPIED.items():
            rows = source.execute(sql, {"gstins": list(gstins)} if "$gstins" in sql else None).to_arrow_table()
            copy.register("copied_rows", rows)
            copy.execute(f"insert into {table} by name select * from copied_rows")
            copy.unregister("copied_rows")
    except BaseException:
        copy.close()
        raise
    return copy
