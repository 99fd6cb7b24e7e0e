"""Recompute stored ASP keys (and the event ids made from them) after ``domain.asp_key`` changed.

Run by migration 007. An event id is a hash that includes the ASP key, so an event whose key
changes gets the id an import would give it today; otherwise importing the same SMS backup
or access log again would store it twice. An id that was not made the known way is kept.
"""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa

from ..domain import asp_key, event_id

_EXTRA = re.compile(r" \((.*)\)$")  # access-log rows: "file.csv:12 (api_name=... ip=...)"


def rekey_asp_names(con: duckdb.DuckDBPyConnection) -> int:
    """Give every stored event and approval today's key for its ASP name; return the events changed."""
    names = con.execute("select distinct asp_name, asp_key from events where asp_name is not null").fetchall()
    changed = {name: asp_key(name) for name, old in names if asp_key(name) != old}
    if not changed:
        return 0
    wanted = pa.table({"asp_name": pa.array(list(changed), pa.string())})  # noqa: F841 (read by name in the SQL)
    rows = con.execute("select e.event_id, e.kind, e.gstin, e.asp_name, e.asp_key, e.occurred_at, e.channel, "
                       "e.status, e.source_ref from events e join wanted using (asp_name)").fetchall()
    updates = []
    for old_id, kind, gstin, name, old_key, occurred, channel, status, ref in rows:
        found = _EXTRA.search(ref or "") if channel == "portal_log" else None
        extra = found.group(1) if found else ""
        new_key = changed[name]
        made_so = event_id(kind, gstin, old_key, occurred, channel, status, extra) == old_id
        updates.append((old_id, event_id(kind, gstin, new_key, occurred, channel, status, extra) if made_so else old_id,
                        new_key))
    update = pa.table({"old_id": [u[0] for u in updates], "new_id": [u[1] for u in updates],  # noqa: F841
                       "new_key": [u[2] for u in updates]})
    # Ids are a primary key: rows are replaced rather than updated in place.
    con.execute("create temp table rekeyed as select e.* replace (u.new_id as event_id, u.new_key as asp_key) "
                "from events e join update u on e.event_id = u.old_id")
    con.execute("delete from events where event_id in (select old_id from update)")
    con.execute("insert into events select * from rekeyed where event_id not in (select event_id from events)")
    con.execute("drop table rekeyed")
    con.execute("update policy_approved_asps set asp_key = k.new_key from (select unnest($names) as name, "
                "unnest($keys) as new_key) k where policy_approved_asps.asp_name = k.name",
                {"names": list(changed), "keys": list(changed.values())})
    return len(updates)
