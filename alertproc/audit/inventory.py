"""The ASP inventory's summary of the history, so a weekly report reads weeks, not years.

The inventory (approved vs seen, last seen, consent) is defined over every event ever stored.
``detect`` keeps a summary per (GSTIN, ASP) of what occurred before the start of the last
complete week (``pair_history``); a report for a period from then on reads that summary plus
the events since. Whenever events before the cutoff were added or deleted after the summary
was built, the report reads all events instead and the next ``detect`` rebuilds it: the
result is the same either way (``tests/audit/test_inventory.py``).
"""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from ..storage.queries import package_queries
from ..storage.store import first_row, now, transaction

EVERYTHING = datetime(1, 1, 1, tzinfo=timezone.utc)


def _queries() -> dict[str, str]:
    return package_queries("inventory.sql")


def refresh(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> bool:
    """Summarise what occurred before ``cutoff`` unless that summary is current; return whether it was rebuilt."""
    queries = _queries()
    row = first_row(con, queries["state"])
    if row and row[0] == cutoff and not row[1]:
        return False
    with transaction(con):
        con.execute(queries["clear"])
        con.execute(queries["fill"], {"cutoff": cutoff})
        con.execute(queries["save_state"], {"cutoff": cutoff, "built_at": now()})
    return True


def source(con: duckdb.DuckDBPyConnection, since: datetime) -> dict:
    """The inventory query's ``$cached`` and ``$from`` for a period from ``since``: the summary when it is usable."""
    row = first_row(con, _queries()["state"])
    if row and not row[1] and since >= row[0]:
        return {"cached": True, "from": row[0]}
    return {"cached": False, "from": EVERYTHING}
