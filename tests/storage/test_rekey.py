"""Migration 007: stored events get today's ASP keys, and the ids an import would give them now."""

from datetime import datetime, timezone

import duckdb

from alertproc.storage import store
from alertproc.domain import asp_key
from alertproc.domain import event_id
from alertproc.storage.store import insert_events, now

AT = datetime(2026, 11, 21, 9, 2, tzinfo=timezone.utc)
OLD_KEYS = {"Kaveri GST Solutions L.L.P.": "KAVERIGSTSOLUTIONSLLP", "ACME TAX CLOUD (P) LTD": "ACMETAXCLOUDP",
            "Acme Tax Cloud Pvt Ltd": "ACMETAXCLOUD"}


def old_event(name: str, channel: str = "sms", ref: str = "backup.xml:3", extra: str = "") -> dict:
    key = OLD_KEYS[name]
    return {"event_id": event_id("token_refreshed", "27AAPFU0939F1ZV", key, AT, channel, None, extra),
            "kind": "token_refreshed", "gstin": "27AAPFU0939F1ZV", "asp_name": name, "asp_key": key,
            "occurred_at": AT, "channel": channel, "source_ref": ref, "imported_at": now()}


def test_migration_rekeys_events_and_their_ids(tmp_path, monkeypatch):
    path = str(tmp_path / "old.duckdb")
    every = store._migrations()
    monkeypatch.setattr(store, "_migrations", lambda: [m for m in every if m[0] <= 6])
    con = duckdb.connect(path)
    con.execute("set TimeZone = 'UTC'")
    store.migrate(con)  # a database as the previous release left it
    events = [old_event("Kaveri GST Solutions L.L.P."), old_event("ACME TAX CLOUD (P) LTD", "portal_log",
                                                                  "log.csv:7 (ip=10.0.0.1)", "ip=10.0.0.1"),
              old_event("Acme Tax Cloud Pvt Ltd", "email")]
    insert_events(con, events)
    con.execute("insert into policy_approved_asps values ('Kaveri GST Solutions L.L.P.', 'KAVERIGSTSOLUTIONSLLP', "
                "null, '27AAPFU0939F1ZV', null, null)")
    con.close()
    monkeypatch.setattr(store, "_migrations", lambda: every)
    con = store.connect(path)
    rows = con.execute("select asp_name, asp_key, event_id from events order by asp_name").fetchall()
    approved = con.execute("select asp_key from policy_approved_asps").fetchall()
    con.close()
    assert [r[1] for r in rows] == ["ACMETAXCLOUD", "ACMETAXCLOUD", "KAVERIGSTSOLUTIONS"]
    expected = {e["asp_name"]: event_id(e["kind"], e["gstin"], asp_key(e["asp_name"]), AT, e["channel"], None,
                                        "ip=10.0.0.1" if e["channel"] == "portal_log" else "") for e in events}
    assert {name: id_ for name, _, id_ in rows} == expected
    assert approved == [("KAVERIGSTSOLUTIONS",)]
    # Importing the same records again now finds them stored: nothing counted twice.
    con = store.connect(path)
    again = [{**e, "asp_key": asp_key(e["asp_name"]), "event_id": expected[e["asp_name"]]} for e in events]
    assert insert_events(con, again) == 0
    con.close()
