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


class ClientView:
    """An in-memory database with the schema, holding one client's rows at a time: a run with
    500 clients builds the schema once (0.12 s) and refills it for each."""

    def __init__(self, source: duckdb.DuckDBPyConnection) -> None:
        self.source = source
        self.con = store.connect(":memory:")

    def of(self, gstins: list[str] | tuple[str, ...]) -> duckdb.DuckDBPyConnection:
        """The database holding only the rows of ``gstins`` (see the module's doc)."""
        for table, sql in _COPIED.items():
            rows = self.source.sql(sql, params={"gstins": list(gstins)} if "$gstins" in sql else None).to_arrow_table()
            self.con.execute(f"delete from {table}")
            self.con.register("copied_rows", rows)
            self.con.execute(f"insert into {table} by name select * from copied_rows")
            self.con.unregister("copied_rows")
        return self.con

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "ClientView":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def client_copy(source: duckdb.DuckDBPyConnection, gstins: list[str] | tuple[str, ...]) -> duckdb.DuckDBPyConnection:
    """An in-memory database holding only the rows of ``gstins``; the caller closes it."""
    view = ClientView(source)
    try:
        return view.of(gstins)
    except BaseException:
        view.close()
        raise
